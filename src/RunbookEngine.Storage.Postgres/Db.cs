using Npgsql;
using NpgsqlTypes;

namespace RunbookEngine.Storage.Postgres;

/// <summary>One connection and transaction, with typed parameters and the notifications the current write will send.</summary>
internal sealed class Db(NpgsqlConnection connection, NpgsqlTransaction? transaction, bool owned = false) : IAsyncDisposable
{
    /// <summary>
    /// Sent first in the hot path's transactions (the writer's groups, claims, a run's history): PostgreSQL keeps a
    /// custom plan for a statement over arrays (<c>unnest</c>, <c>= ANY</c>), whose estimated cost knows their length,
    /// and so plans it anew on every call; these statements have one good plan whatever the length (primary-key and
    /// queue-index probes), and planning them was a third of the server's statement time per run
    /// (docs/benchmarks.md). <c>SET LOCAL</c> ends with the transaction, implicit or not.
    /// </summary>
    public const string GenericPlans = "SET LOCAL plan_cache_mode = force_generic_plan";

    public NpgsqlConnection Connection { get; } = connection;

    public NpgsqlTransaction? Transaction { get; } = transaction;

    /// <summary>Opens a connection and, unless <paramref name="isolation"/> is null, a transaction; disposing the result closes both.</summary>
    public static async Task<Db> OpenAsync(NpgsqlDataSource dataSource, System.Data.IsolationLevel? isolation, CancellationToken cancellationToken)
    {
        var c = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var tx = isolation is { } level ? await c.BeginTransactionAsync(level, cancellationToken).ConfigureAwait(false) : null;
            return new Db(c, tx, owned: true);
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (owned)
        {
            if (Transaction is not null)
            {
                await Transaction.DisposeAsync().ConfigureAwait(false);
            }

            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Gets the task queues whose workers the current write should wake (sent with pg_notify before commit).</summary>
    public HashSet<string> Wakes { get; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets a statement sent in the same round trip before the next one (the savepoint of a grouped write).</summary>
    public string? Prefix { get; set; }

    /// <summary>Gets a value indicating whether <see cref="Prefix"/> has been sent.</summary>
    public bool PrefixSent { get; private set; }

    /// <summary>Gets the runs the current write ended (sent with pg_notify before commit).</summary>
    public HashSet<string> Ended { get; } = new(StringComparer.Ordinal);

    public static NpgsqlParameter P(string name, string? value) => new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    public static NpgsqlParameter P(string name, long value) => new(name, NpgsqlDbType.Bigint) { Value = value };

    public static NpgsqlParameter P(string name, int value) => new(name, NpgsqlDbType.Integer) { Value = value };

    public static NpgsqlParameter P(string name, bool value) => new(name, NpgsqlDbType.Boolean) { Value = value };

    public static NpgsqlParameter P(string name, DateTimeOffset? value) =>
        new(name, NpgsqlDbType.TimestampTz) { Value = value is { } v ? PgTime.ToDb(v) : DBNull.Value };

    public static NpgsqlParameter P(string name, string[] values) => new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values };

    public static NpgsqlParameter P(string name, long[] values) => new(name, NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = values };

    public static NpgsqlParameter P(string name, bool[] values) => new(name, NpgsqlDbType.Array | NpgsqlDbType.Boolean) { Value = values };

    public static NpgsqlParameter P(string name, DateTimeOffset[] values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = values.Select(PgTime.ToDb).ToArray() };

    public static NpgsqlParameter P(string name, DateTimeOffset?[] values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = values.Select(v => v is { } t ? PgTime.ToDb(t) : (DateTimeOffset?)null).ToArray() };

    public async Task<int> ExecAsync(string sql, params NpgsqlParameter[] parameters)
    {
        if (Prefix is not null && !PrefixSent)
        {
            return (await BatchAsync([(sql, parameters)]).ConfigureAwait(false))[0];
        }

        // A plain command: its text may hold several statements (migrations, LISTEN).
#pragma warning disable CA2100 // Every SQL text is a constant of this assembly; values are always parameters.
        var cmd = new NpgsqlCommand(sql, Connection, Transaction);
#pragma warning restore CA2100
        await using (cmd.ConfigureAwait(false))
        {
            cmd.Parameters.AddRange(parameters);
            return await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    public async Task<object?> ScalarAsync(string sql, params NpgsqlParameter[] parameters)
    {
        var rows = await QueryAsync(sql, r => r.IsDBNull(0) ? null : r.GetValue(0), parameters).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> map, params NpgsqlParameter[] parameters)
    {
        var batch = NewBatch([(sql, parameters)]);
        await using (batch.ConfigureAwait(false))
        {
            var r = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            await using (r.ConfigureAwait(false))
            {
                PrefixSent |= Prefix is not null;
                while (r.FieldCount == 0 && await r.NextResultAsync().ConfigureAwait(false))
                {
                    // Skip the prefix's empty result.
                }

                var list = new List<T>();
                while (await r.ReadAsync().ConfigureAwait(false))
                {
                    list.Add(map(r));
                }

                return list;
            }
        }
    }

    /// <summary>
    /// Sends statements in one round trip and reads each one's rows with its own reader, in order; statements that
    /// return no rows (SET, the prefix) are passed over.
    /// </summary>
    public async Task QueryEachAsync(IReadOnlyList<(string Sql, NpgsqlParameter[] Parameters)> commands, IReadOnlyList<Action<NpgsqlDataReader>> rows)
    {
        var batch = NewBatch(commands);
        await using (batch.ConfigureAwait(false))
        {
            var r = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            await using (r.ConfigureAwait(false))
            {
                PrefixSent |= Prefix is not null;
                var next = 0;
                do
                {
                    if (r.FieldCount == 0)
                    {
                        continue;
                    }

                    var read = rows[next++];
                    while (await r.ReadAsync().ConfigureAwait(false))
                    {
                        read(r);
                    }
                }
                while (await r.NextResultAsync().ConfigureAwait(false));
            }
        }
    }

    /// <summary>Sends statements in one round trip (with the prefix, if any) and returns the rows each affected.</summary>
    public async Task<int[]> BatchAsync(IReadOnlyList<(string Sql, NpgsqlParameter[] Parameters)> commands)
    {
        var batch = NewBatch(commands);
        await using (batch.ConfigureAwait(false))
        {
            var prefixed = Prefix is not null && !PrefixSent ? 1 : 0;
            await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
            PrefixSent |= prefixed == 1;
            return Enumerable.Range(prefixed, batch.BatchCommands.Count - prefixed).Select(i => batch.BatchCommands[i].RecordsAffected).ToArray();
        }
    }

    private NpgsqlBatch NewBatch(IReadOnlyList<(string Sql, NpgsqlParameter[] Parameters)> commands)
    {
        var batch = new NpgsqlBatch(Connection, Transaction);
        if (Prefix is not null && !PrefixSent)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(Prefix));
        }

        foreach (var (sql, parameters) in commands)
        {
#pragma warning disable CA2100 // Every SQL text is a constant of this assembly; values are always parameters.
            var c = new NpgsqlBatchCommand(sql);
#pragma warning restore CA2100
            c.Parameters.AddRange(parameters);
            batch.BatchCommands.Add(c);
        }

        return batch;
    }
}
