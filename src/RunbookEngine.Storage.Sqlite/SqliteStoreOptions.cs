namespace RunbookEngine.Storage.Sqlite;

/// <summary>Options of the SQLite store.</summary>
public sealed record SqliteStoreOptions
{
    /// <summary>Gets the default database path, relative to the working directory.</summary>
    public const string DefaultPath = ".runbook/runbook.db";

    /// <summary>Gets the database file path. Default <c>.runbook/runbook.db</c>; its directory is created.</summary>
    public string Path { get; init; } = DefaultPath;

    /// <summary>Gets the durability of commits. Default <see cref="SqliteSynchronous.Full"/>.</summary>
    public SqliteSynchronous Synchronous { get; init; } = SqliteSynchronous.Full;

    /// <summary>Gets how long a write waits for another process's lock before failing. Default 10 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets the most writes grouped into one commit. Default 256.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>Gets a cap on the database size in pages (SQLite <c>max_page_count</c>); null for none. A write past it fails as if the disk were full.</summary>
    public long? MaxPageCount { get; init; }

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException("The SQLite database path must not be empty.");
        }

        if (BusyTimeout < TimeSpan.Zero || MaxBatchSize < 1 || MaxPageCount is < 1)
        {
            throw new ArgumentException("Busy timeout must not be negative, batch size and page cap must be positive.");
        }
    }
}
