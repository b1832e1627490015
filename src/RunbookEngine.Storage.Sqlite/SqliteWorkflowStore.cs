using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. All writes of this process go through one writer
/// connection that groups the writes waiting at the same moment into one transaction (group commit), each in
/// its own savepoint so that one refused write (fencing) does not undo its neighbours. Several processes may
/// share the file: SQLite's write lock (<c>BEGIN IMMEDIATE</c> with a busy timeout) serializes them.
/// </summary>
public sealed partial class SqliteWorkflowStore : IWorkflowStore
{
    private readonly SqliteStoreOptions options;
    private readonly string fullPath;
    private readonly string connectionString;
    private readonly Channel<WriteOperation> writes = Channel.CreateUnbounded<WriteOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, SqliteCommand> writerCommands = new(StringComparer.Ordinal);
    private SqliteConnection? writer;
    private Task? writerLoop;
    private int disposed;

    static SqliteWorkflowStore() => SQLitePCL.Batteries_V2.Init();

    private SqliteWorkflowStore(SqliteStoreOptions options, string fullPath)
    {
        this.options = options;
        this.fullPath = fullPath;
        connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    /// <summary>Gets the full path of the database file.</summary>
    public string DatabasePath => fullPath;

    /// <summary>Opens (creating if needed) the database and applies the schema.</summary>
    /// <param name="options">Options; default path <c>.runbook/runbook.db</c>.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="WorkflowStoreException">The file cannot be created, opened or migrated; the message says why.</exception>
    public static async Task<SqliteWorkflowStore> OpenAsync(SqliteStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SqliteStoreOptions();
        options.Validate();
        string full;
        try
        {
            full = System.IO.Path.GetFullPath(options.Path);
            var dir = System.IO.Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new WorkflowStoreException($"Cannot create the directory of the database {options.Path}: {ex.Message}", ex);
        }

        if (Directory.Exists(full))
        {
            throw new WorkflowStoreException($"The database path {full} is a directory; give the path of a file (e.g. {System.IO.Path.Combine(full, "runbook.db")}).");
        }

        var store = new SqliteWorkflowStore(options, full);
        try
        {
            store.OpenWriter();
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return store;
    }

    /// <inheritdoc/>
    public Task MigrateAsync(CancellationToken cancellationToken) => WriteAsync(
        (c, tx) =>
        {
            Exec(c, tx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
            var current = Convert.ToInt32(Scalar(c, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"), System.Globalization.CultureInfo.InvariantCulture);
            if (current > SqliteSchema.LatestVersion)
            {
                throw new WorkflowStoreException($"The database {fullPath} has schema version {current}, newer than this engine understands ({SqliteSchema.LatestVersion}). Upgrade the engine before using this database.");
            }

            foreach (var (version, sql) in SqliteSchema.Migrations)
            {
                if (version > current)
                {
                    Exec(c, tx, sql);
                    Exec(c, tx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($v, $at)", ("$v", version), ("$at", DateTimeOffset.UnixEpoch.ToUnixTimeMilliseconds()));
                }
            }

            return true;
        },
        cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        writes.Writer.TryComplete();
        if (writerLoop is not null)
        {
            await writerLoop.ConfigureAwait(false);
        }

        foreach (var cmd in writerCommands.Values)
        {
            cmd.Dispose();
        }

        writer?.Dispose();
        SqliteConnection.ClearPool(new SqliteConnection(connectionString));
    }

    private void OpenWriter()
    {
        try
        {
            writer = new SqliteConnection(connectionString);
            writer.Open();
            Configure(writer);
            var mode = Convert.ToString(Scalar(writer, null, "PRAGMA journal_mode=WAL"), System.Globalization.CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new WorkflowStoreException($"The database {fullPath} could not be switched to WAL mode (got '{mode}'); the file system may not support shared memory.");
            }

            Exec(writer, null, options.Synchronous == SqliteSynchronous.Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
            if (options.MaxPageCount is { } pages)
            {
                Scalar(writer, null, $"PRAGMA max_page_count={pages}");
            }
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.Translate(ex, fullPath, options.BusyTimeout);
        }

        writerLoop = Task.Factory.StartNew(WriterLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Configure(SqliteConnection connection) =>
        Exec(connection, null, $"PRAGMA busy_timeout={(long)options.BusyTimeout.TotalMilliseconds}");

    private Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var op = new WriteOperation<T>(work);
        if (Volatile.Read(ref disposed) != 0 || !writes.Writer.TryWrite(op))
        {
            throw new ObjectDisposedException(nameof(SqliteWorkflowStore), "The store is closed.");
        }

        return op.Task;
    }

    private Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            using var connection = new SqliteConnection(connectionString);
#pragma warning disable VSTHRD103 // Microsoft.Data.Sqlite's OpenAsync runs synchronously too; reads are short and local.
            connection.Open();
#pragma warning restore VSTHRD103
            Configure(connection);
            return Task.FromResult(read(connection));
        }
        catch (SqliteException ex)
        {
            return Task.FromException<T>(SqliteErrors.Translate(ex, fullPath, options.BusyTimeout));
        }
    }

    private void WriterLoop()
    {
        var batch = new List<WriteOperation>(options.MaxBatchSize);
        var reader = writes.Reader;
        while (true)
        {
            if (!reader.TryRead(out var first))
            {
                // Block this dedicated thread until work arrives or the channel completes.
#pragma warning disable VSTHRD002 // This is the writer's own dedicated thread (LongRunning); blocking it is the design.
                if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
#pragma warning restore VSTHRD002
                {
                    return;
                }

                continue;
            }

            batch.Clear();
            batch.Add(first);
            while (batch.Count < options.MaxBatchSize && reader.TryRead(out var more))
            {
                batch.Add(more);
            }

            ExecuteBatch(batch);
        }
    }

    private void ExecuteBatch(List<WriteOperation> batch)
    {
        var c = writer!;
        SqliteTransaction? tx = null;
        var ok = new List<WriteOperation>(batch.Count);
        try
        {
            tx = c.BeginTransaction(deferred: false);
            var useSavepoints = batch.Count > 1;
            foreach (var op in batch)
            {
                if (useSavepoints)
                {
                    Exec(c, tx, "SAVEPOINT op");
                }

                try
                {
                    op.Execute(c, tx);
                    if (useSavepoints)
                    {
                        Exec(c, tx, "RELEASE op");
                    }

                    ok.Add(op);
                }
                catch (Exception ex) when (ex is WorkflowStoreException or SqliteException or InvalidOperationException or FormatException)
                {
                    if (!useSavepoints || (ex is SqliteException se && IsFatal(se)))
                    {
                        throw;
                    }

                    Exec(c, tx, "ROLLBACK TO op");
                    Exec(c, tx, "RELEASE op");
                    op.Fail(Wrap(ex));
                }
            }

            tx.Commit();
            foreach (var op in ok)
            {
                op.Complete();
            }
        }
#pragma warning disable CA1031 // Every failure is handed to the waiting callers; the writer thread must survive.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            try
            {
                tx?.Rollback();
            }
            catch (SqliteException)
            {
                // The transaction is already gone (e.g. the disk is full); the rollback has nothing to undo.
            }

            var error = Wrap(ex);
            foreach (var op in batch)
            {
                op.Fail(error);
            }
        }
        finally
        {
            tx?.Dispose();
        }
    }

    private static bool IsFatal(SqliteException ex) => ex.SqliteErrorCode is 5 or 6 or 10 or 11 or 13 or 26;

    private Exception Wrap(Exception ex) => ex switch
    {
        WorkflowStoreException w => w,
        SqliteException s => SqliteErrors.Translate(s, fullPath, options.BusyTimeout),
        _ => new WorkflowStoreException($"Write to {fullPath} failed: {ex.Message}", ex),
    };

    private abstract class WriteOperation
    {
        public abstract void Execute(SqliteConnection connection, SqliteTransaction transaction);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private sealed class WriteOperation<T>(Func<SqliteConnection, SqliteTransaction, T> work) : WriteOperation
    {
        private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T result = default!;

        public Task<T> Task => completion.Task;

        public override void Execute(SqliteConnection connection, SqliteTransaction transaction) => result = work(connection, transaction);

        public override void Complete() => completion.TrySetResult(result);

        public override void Fail(Exception error) => completion.TrySetException(error);
    }
}
