namespace RunbookEngine.Runbooks.Expressions;

/// <summary>
/// The value of something not known yet: in a dry-run, every output of a planned step. Operations on it give
/// unknown; a condition that is unknown is reported as such rather than guessed.
/// </summary>
public sealed class Unknown
{
    private Unknown()
    {
    }

    /// <summary>Gets the single unknown value.</summary>
    public static Unknown Value { get; } = new();

    /// <inheritdoc/>
    public override string ToString() => "<unknown>";
}
