namespace RunbookEngine.Runbooks.Model;

/// <summary>One problem found in a runbook.</summary>
/// <param name="Location">Where.</param>
/// <param name="Message">What.</param>
public sealed record RunbookDiagnostic(SourceLocation Location, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Location}: {Message}";
}
