using System.Text.RegularExpressions;
using Npgsql;

namespace RunbookEngine.Storage.Postgres;

/// <summary>Options of the PostgreSQL store.</summary>
public sealed partial record PostgresStoreOptions
{
    /// <summary>The most pooled connections a store opens unless the connection string sets <c>Maximum Pool Size</c> (Npgsql's own default is 100; PostgreSQL allows 100 connections by default).</summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>Gets the Npgsql connection string, e.g. <c>Host=db;Database=runbook;Username=runbook;Password=...</c>.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>Gets the PostgreSQL schema holding the engine's tables; created if missing. Default <c>runbook</c>.</summary>
    public string Schema { get; init; } = "runbook";

    /// <summary>Gets the most writes grouped into one transaction by one writer. Default 32: each write is a subtransaction, and PostgreSQL tracks at most 64 per transaction cheaply.</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>
    /// Gets the most writer connections that group-commit concurrently. Default 4. One writes; each further one
    /// starts only while a whole batch (<see cref="MaxBatchSize"/>) is queued, so that a second transaction in
    /// flight is as full as the first.
    /// </summary>
    public int Writers { get; init; } = 4;

    /// <summary>Gets how long a write keeps retrying while the database is unreachable or restarting, with backoff, before it fails. Default 60 s.</summary>
    public TimeSpan ReconnectWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets the size (characters) above which a run's or step's input or output is stored in the payloads table, referenced by content hash. Default 4096.</summary>
    public int InlinePayloadLimit { get; init; } = 4096;

    /// <summary>Gets whether the store LISTENs for work notifications to wake idle workers at once (they poll anyway). Default true.</summary>
    public bool Listen { get; init; } = true;

    /// <summary>Gets the clock of reconnect waits and of the reconnect window (tests pass a manual one). Default the system's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Gets a value indicating whether a store string names PostgreSQL rather than a SQLite file.</summary>
    /// <param name="store">A <c>--store</c> value.</param>
    /// <returns>True for <c>Host=...</c> connection strings and <c>postgres://</c> or <c>postgresql://</c> URLs.</returns>
    public static bool IsPostgres(string store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || store.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            || ConnectionKeyword().IsMatch(store);
    }

    /// <summary>Turns a connection string or a <c>postgres://user:password@host:port/database</c> URL into an Npgsql connection string.</summary>
    /// <param name="store">The value given by the user.</param>
    /// <returns>The connection string.</returns>
    /// <exception cref="ArgumentException">The value cannot be parsed; the message says why without echoing a password.</exception>
    public static string NormalizeConnectionString(string store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!store.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !store.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new NpgsqlConnectionStringBuilder(store).ConnectionString;
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"The PostgreSQL connection string is not valid: {ex.Message} Expected e.g. Host=127.0.0.1;Port=5432;Database=runbook;Username=runbook.", ex);
            }
        }

        if (!Uri.TryCreate(store, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException("The PostgreSQL URL is not valid. Expected postgres://user:password@host:port/database.");
        }

        var b = new NpgsqlConnectionStringBuilder { Host = uri.Host, Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port };
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            b.Database = database;
        }

        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            b.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                b.Password = Uri.UnescapeDataString(parts[1]);
            }
        }

        return b.ConnectionString;
    }

    /// <summary>Checks that the options are coherent.</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("ConnectionString is required.");
        }

        if (!SchemaName().IsMatch(Schema))
        {
            throw new ArgumentException($"Schema '{Schema}' is not a plain PostgreSQL identifier (lower-case letters, digits and _, not starting with a digit, at most 40 characters).");
        }

        if (MaxBatchSize < 1 || Writers < 1 || Writers > 32)
        {
            throw new ArgumentException("MaxBatchSize must be at least 1 and Writers between 1 and 32.");
        }

        if (ReconnectWindow < TimeSpan.Zero || InlinePayloadLimit < 0)
        {
            throw new ArgumentException("ReconnectWindow and InlinePayloadLimit must not be negative.");
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$")]
    private static partial Regex SchemaName();

    [GeneratedRegex(@"(^|;)\s*(host|server)\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex ConnectionKeyword();
}
