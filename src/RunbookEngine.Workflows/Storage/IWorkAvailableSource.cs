namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// Implemented by stores that can tell idle workers, in any process, that work became claimable
/// (PostgreSQL: LISTEN/NOTIFY). Workers still poll: a notification only shortens the wait.
/// </summary>
public interface IWorkAvailableSource
{
    /// <summary>Calls <paramref name="onWorkAvailable"/> with a task queue name whenever work on it may have become claimable, and with null when any queue may have (e.g. after reconnecting).</summary>
    /// <param name="onWorkAvailable">The callback; it must be quick and must not throw.</param>
    /// <returns>Disposing it ends the subscription.</returns>
    IDisposable SubscribeWorkAvailable(Action<string?> onWorkAvailable);
}
