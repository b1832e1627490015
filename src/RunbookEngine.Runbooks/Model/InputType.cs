namespace RunbookEngine.Runbooks.Model;

/// <summary>The type of a runbook input.</summary>
public enum InputType
{
    /// <summary>Text.</summary>
    String,

    /// <summary>A number.</summary>
    Number,

    /// <summary>true or false.</summary>
    Boolean,

    /// <summary>One of a fixed set of strings (<c>values:</c>).</summary>
    Enum,

    /// <summary>A list of strings (comma-separated on the command line).</summary>
    List,
}
