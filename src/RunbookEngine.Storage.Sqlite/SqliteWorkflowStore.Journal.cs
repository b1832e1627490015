using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>The journal of what was received for no run.</content>
public sealed partial class SqliteWorkflowStore
{
    /// <inheritdoc/>
    public Task AppendJournalAsync(IReadOnlyList<NewJournalEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries.Count == 0 ? Task.CompletedTask : WriteAsync(
            (c, tx) =>
            {
                foreach (var e in entries)
                {
                    Exec(c, tx, "INSERT INTO journal (at, source, kind, subject, data) VALUES ($at, $source, $kind, $subject, $data)", ("$at", SqliteTime.ToDb(e.At)), ("$source", e.Source), ("$kind", e.Kind), ("$subject", e.Subject), ("$data", e.Data));
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
            c => Query(
                c,
                null,
                "SELECT id, at, source, kind, subject, data FROM journal WHERE ($source IS NULL OR source = $source) AND ($kind IS NULL OR kind = $kind) AND ($before IS NULL OR id < $before) ORDER BY id DESC LIMIT $n",
                r => new JournalEntry(r.GetInt64(0), SqliteTime.FromDb(r.GetInt64(1)), r.GetString(2), r.GetString(3), r.GetString(4), Str(r, 5)),
                ("$source", query.Source),
                ("$kind", query.Kind),
                ("$before", query.BeforeId),
                ("$n", Math.Max(1, query.Limit))),
            cancellationToken);
    }
}
