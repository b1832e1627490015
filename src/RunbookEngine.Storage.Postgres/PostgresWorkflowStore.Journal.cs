using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>The journal of what was received for no run.</content>
public sealed partial class PostgresWorkflowStore
{
    /// <inheritdoc/>
    public Task AppendJournalAsync(IReadOnlyList<NewJournalEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries.Count == 0 ? Task.CompletedTask : WriteAsync(
            async db =>
            {
                foreach (var e in entries)
                {
                    await db.ExecAsync("INSERT INTO journal (at, source, kind, subject, data) VALUES (@at, @source, @kind, @subject, @data)", Db.P("at", e.At), Db.P("source", e.Source), Db.P("kind", e.Kind), Db.P("subject", e.Subject), Db.P("data", e.Data)).ConfigureAwait(false);
                }

                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<JournalEntry>> ListJournalAsync(JournalQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync<IReadOnlyList<JournalEntry>>(
            async db => await db.QueryAsync(
                "SELECT id, at, source, kind, subject, data FROM journal WHERE (@source::text IS NULL OR source = @source) AND (@kind::text IS NULL OR kind = @kind) AND (@before::bigint IS NULL OR id < @before) ORDER BY id DESC LIMIT @n",
                r => new JournalEntry(r.GetInt64(0), Time(r, 1), r.GetString(2), r.GetString(3), r.GetString(4), Str(r, 5)),
                Db.P("source", query.Source),
                Db.P("kind", query.Kind),
                new Npgsql.NpgsqlParameter("before", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)query.BeforeId ?? DBNull.Value },
                Db.P("n", Math.Max(1, query.Limit))).ConfigureAwait(false),
            cancellationToken);
    }
}
