using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>The web console's sessions.</content>
public sealed partial class SqliteWorkflowStore
{
    /// <inheritdoc/>
    public Task OpenSessionAsync(ConsoleSession session, DateTimeOffset idleBefore, int keepPerToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(keepPerToken, 1);
        return WriteAsync(
            (c, tx) =>
            {
                Exec(c, tx, "DELETE FROM console_sessions WHERE expires_at <= $now OR last_seen < $idle", ("$now", SqliteTime.ToDb(session.Opened)), ("$idle", SqliteTime.ToDb(idleBefore)));
                Exec(
                    c,
                    tx,
                    "DELETE FROM console_sessions WHERE token_hash = $token AND id NOT IN (SELECT id FROM console_sessions WHERE token_hash = $token ORDER BY opened_at DESC, id LIMIT $keep)",
                    ("$token", session.TokenHash),
                    ("$keep", keepPerToken - 1));
                Exec(
                    c,
                    tx,
                    "INSERT INTO console_sessions (id, token_hash, opened_at, expires_at, last_seen) VALUES ($id, $token, $opened, $expires, $seen)",
                    ("$id", session.Id),
                    ("$token", session.TokenHash),
                    ("$opened", SqliteTime.ToDb(session.Opened)),
                    ("$expires", SqliteTime.ToDb(session.Expires)),
                    ("$seen", SqliteTime.ToDb(session.LastSeen)));
                return 0;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<ConsoleSession?> GetSessionAsync(string id, CancellationToken cancellationToken) =>
        ReadAsync(
            c => Query(
                c,
                null,
                "SELECT id, token_hash, opened_at, expires_at, last_seen FROM console_sessions WHERE id = $id",
                static (SqliteDataReader r) => new ConsoleSession(r.GetString(0), r.GetString(1), SqliteTime.FromDb(r.GetInt64(2)), SqliteTime.FromDb(r.GetInt64(3)), SqliteTime.FromDb(r.GetInt64(4))),
                ("$id", id)).FirstOrDefault(),
            cancellationToken);

    /// <inheritdoc/>
    public Task TouchSessionAsync(string id, DateTimeOffset lastSeen, CancellationToken cancellationToken) =>
        WriteAsync((c, tx) => Exec(c, tx, "UPDATE console_sessions SET last_seen = $seen WHERE id = $id AND last_seen < $seen", ("$id", id), ("$seen", SqliteTime.ToDb(lastSeen))), cancellationToken);

    /// <inheritdoc/>
    public Task EndSessionAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync((c, tx) => Exec(c, tx, "DELETE FROM console_sessions WHERE id = $id", ("$id", id)), cancellationToken);
}
