namespace RunbookEngine.Runbooks.Model;

/// <summary>The language of a runbook.</summary>
public enum RunbookLanguage
{
    /// <summary>YAML steps (<c>.yaml</c>, <c>.yml</c>), interpreted.</summary>
    Yaml,

    /// <summary>A C# script (<c>.csx</c>), compiled with Roslyn.</summary>
    Script,
}
