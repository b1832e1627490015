using Npgsql;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>The web console's sessions.</content>
public sealed partial class PostgresWorkflowStore
{
    /// <inheritdoc/>
    public Task OpenSessionAsync(ConsoleSession session, DateTimeOffset idleBefore, int keepPerToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(keepPerToken, 1);
        return WriteAsync(
            async db =>
            {
                await db.BatchAsync(
                [
                    ("DELETE FROM console_sessions WHERE expires_at <= @now OR last_seen < @idle", [Db.P("now", session.Opened), Db.P("idle", idleBefore)]),
                    (
                        "DELETE FROM console_sessions WHERE token_hash = @token AND id NOT IN (SELECT id FROM console_sessions WHERE token_hash = @token ORDER BY opened_at DESC, id LIMIT @keep)",
                        [Db.P("token", session.TokenHash), Db.P("keep", keepPerToken - 1)]),
                    (
                        "INSERT INTO console_sessions (id, token_hash, opened_at, expires_at, last_seen) VALUES (@id, @token, @opened, @expires, @seen)",
                        [Db.P("id", session.Id), Db.P("token", session.TokenHash), Db.P("opened", session.Opened), Db.P("expires", session.Expires), Db.P("seen", session.LastSeen)]),
                ]).ConfigureAwait(false);
                return 0;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<ConsoleSession?> GetSessionAsync(string id, CancellationToken cancellationToken) =>
        ReadAsync(
            async db => (await db.QueryAsync(
                "SELECT id, token_hash, opened_at, expires_at, last_seen FROM console_sessions WHERE id = @id",
                static (NpgsqlDataReader r) => new ConsoleSession(r.GetString(0), r.GetString(1), Time(r, 2), Time(r, 3), Time(r, 4)),
                Db.P("id", id)).ConfigureAwait(false)).FirstOrDefault(),
            cancellationToken);

    /// <inheritdoc/>
    public Task TouchSessionAsync(string id, DateTimeOffset lastSeen, CancellationToken cancellationToken) =>
        WriteAsync(db => db.ExecAsync("UPDATE console_sessions SET last_seen = @seen WHERE id = @id AND last_seen < @seen", Db.P("id", id), Db.P("seen", lastSeen)), cancellationToken);

    /// <inheritdoc/>
    public Task EndSessionAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync(db => db.ExecAsync("DELETE FROM console_sessions WHERE id = @id", Db.P("id", id)), cancellationToken);
}
