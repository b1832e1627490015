namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// The web console's sign-ins, kept with the runs: every server on the store knows a session whichever made it,
/// and a restart keeps it. The store sees neither the cookie nor the token, only their SHA-256.
/// </summary>
public interface ISessionStore
{
    /// <summary>
    /// Stores a new session, forgets every session that ended (past its expiry or unused since
    /// <paramref name="idleBefore"/>), and keeps at most <paramref name="keepPerToken"/> sessions of its token
    /// (the oldest give way, so signing in always works).
    /// </summary>
    /// <param name="session">The session.</param>
    /// <param name="idleBefore">Sessions last seen before this have ended.</param>
    /// <param name="keepPerToken">How many sessions one token may hold, the new one included.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task OpenSessionAsync(ConsoleSession session, DateTimeOffset idleBefore, int keepPerToken, CancellationToken cancellationToken);

    /// <summary>Reads a session.</summary>
    /// <param name="id">Its id (the SHA-256 of its cookie).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The session, or null when there is none (never opened, ended or forgotten).</returns>
    Task<ConsoleSession?> GetSessionAsync(string id, CancellationToken cancellationToken);

    /// <summary>Records that a session was used (never moves its last use back).</summary>
    /// <param name="id">Its id.</param>
    /// <param name="lastSeen">When it was used.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task TouchSessionAsync(string id, DateTimeOffset lastSeen, CancellationToken cancellationToken);

    /// <summary>Ends a session; nothing happens when there is none.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task EndSessionAsync(string id, CancellationToken cancellationToken);
}
