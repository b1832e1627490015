using Npgsql;
using NpgsqlTypes;

namespace RunbookEngine.Storage.Postgres;

/// <summary>One connection and transaction, with typed parameters and the notifications the current write will send.</summary>
internal sealed class Db(NpgsqlConnection connection, NpgsqlTransaction? transaction, bool owned = false) : IAsyncDisposable
{
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

    public static NpgsqlParameter P(string name, DateTimeOffset[] values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = values.Select(PgTime.ToDb).ToArray() };

    public async Task<int> ExecAsync(string sql, params NpgsqlParameter[] parameters)
    {
        var cmd = Command(sql, parameters);
        await using (cmd.ConfigureAwait(false))
        {
            return await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    public async Task<object?> ScalarAsync(string sql, params NpgsqlParameter[] parameters)
    {
        var cmd = Command(sql, parameters);
        await using (cmd.ConfigureAwait(false))
        {
            var v = await cmd.ExecuteScalarAsync().ConfigureAwait(false);
            return v is DBNull ? null : v;
        }
    }

    public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> map, params NpgsqlParameter[] parameters)
    {
        var cmd = Command(sql, parameters);
        await using (cmd.ConfigureAwait(false))
        {
            var r = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
            await using (r.ConfigureAwait(false))
            {
                var list = new List<T>();
                while (await r.ReadAsync().ConfigureAwait(false))
                {
                    list.Add(map(r));
                }

                return list;
            }
        }
    }

    private NpgsqlCommand Command(string sql, NpgsqlParameter[] parameters)
    {
#pragma warning disable CA2100 // Every SQL text is a constant of this assembly; values are always parameters.
        var cmd = new NpgsqlCommand(sql, Connection, Transaction);
#pragma warning restore CA2100
        cmd.Parameters.AddRange(parameters);
        return cmd;
    }
}
