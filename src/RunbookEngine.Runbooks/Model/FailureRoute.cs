namespace RunbookEngine.Runbooks.Model;

/// <summary>Failure routing.</summary>
/// <param name="Mode">The mode.</param>
/// <param name="Target">The step to continue at, for goto.</param>
public sealed record FailureRoute(FailureMode Mode, string? Target)
{
    /// <summary>Gets the default: abort.</summary>
    public static FailureRoute Abort { get; } = new(FailureMode.Abort, null);
}
