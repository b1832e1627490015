namespace RunbookEngine.Runbooks.Model;

/// <summary>One problem found in a runbook.</summary>
/// <param name="Location">Where.</param>
/// <param name="Message">What.</param>
/// <param name="Warning">A warning: the runbook is still valid and runs (`runbook validate` prints it and exits 0).</param>
public sealed record RunbookDiagnostic(SourceLocation Location, string Message, bool Warning = false)
{
    /// <inheritdoc/>
    public override string ToString() => Warning ? $"{Location}: warning: {Message}" : $"{Location}: {Message}";
}
