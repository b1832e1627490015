namespace RunbookEngine.Runbooks.Model;

/// <summary>A place in a runbook file (1-based line and column).</summary>
/// <param name="File">The file path as given.</param>
/// <param name="Line">The line.</param>
/// <param name="Column">The column.</param>
public sealed record SourceLocation(string File, int Line, int Column)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}:{Line}:{Column}";
}
