using System.Data;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <summary>
/// The distributed store: any number of processes on any number of machines share one PostgreSQL database.
/// Writes of this process are grouped by a few writer loops into transactions (group commit), each write in its
/// own savepoint so that a refused write (fencing) does not undo its neighbours, and a write that lost a deadlock
/// is retried alone. Claims use <c>FOR UPDATE SKIP LOCKED</c>, so workers never wait on each other's candidates.
/// While the database is unreachable or restarting, writes and reads retry with backoff for
/// <see cref="PostgresStoreOptions.ReconnectWindow"/>; nothing is applied twice, and a commit whose outcome the
/// broken connection hid is reported as such.
/// </summary>
public sealed partial class PostgresWorkflowStore : IWorkflowStore, IWorkAvailableSource
{
    private readonly PostgresStoreOptions options;
    private readonly NpgsqlDataSource dataSource;
    private readonly NpgsqlDataSource listenSource;
    private readonly string where;
    private readonly string channel;
    private readonly string endedChannel;
    private readonly Channel<WriteOperation> writes = Channel.CreateUnbounded<WriteOperation>();
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock subscribersLock = new();
    private readonly List<Action<string?>> subscribers = [];
    private readonly List<Action<string?>> endedSubscribers = [];
    private readonly TaskCompletionSource listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim helperWake = new(0);
    private Task[] writerLoops = [];
    private int idleHelpers;
    private Task? listenLoop;
    private int disposed;
    private long transientFailures;
    private long transactions;
    private long groupedCommits;
    private long singleCommits;

    private PostgresWorkflowStore(PostgresStoreOptions options)
    {
        this.options = options;
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        var cs = builder.ConnectionStringBuilder;
        cs.SearchPath = options.Schema;
        cs.ApplicationName ??= "runbook";
        if (cs.MaxAutoPrepare == 0)
        {
            cs.MaxAutoPrepare = 64;
        }

        // A worker running 64 runs at once would otherwise open about 60 connections (Npgsql allows 100), and a
        // few such processes exhaust PostgreSQL's default max_connections of 100. Reads and writes hold a
        // connection for milliseconds, so a smaller pool only makes the rare burst wait its turn.
        if (!options.ConnectionString.Contains("pool size", StringComparison.OrdinalIgnoreCase) && !options.ConnectionString.Contains("maxpoolsize", StringComparison.OrdinalIgnoreCase))
        {
            cs.MaxPoolSize = Math.Max(PostgresStoreOptions.DefaultMaxPoolSize, cs.MinPoolSize);
        }

        // The store leaves no session state on a pooled connection (its advisory lock is transaction-scoped, and
        // the LISTEN connection is not pooled), so resetting each one as it goes back to the pool would only
        // add three statements to every transaction.
        if (!options.ConnectionString.Contains("reset", StringComparison.OrdinalIgnoreCase))
        {
            cs.NoResetOnClose = true;
        }

        where = $"{cs.Host}:{cs.Port}/{cs.Database ?? cs.Username} (schema {options.Schema})";
        channel = options.Schema + "_work";
        endedChannel = options.Schema + "_ended";
        dataSource = builder.Build();
        var listen = new NpgsqlDataSourceBuilder(cs.ConnectionString);
        listen.ConnectionStringBuilder.Pooling = false;
        listenSource = listen.Build();
    }

    /// <summary>Gets where the store is, for messages: host, port, database and schema (never the password).</summary>
    public string Location => where;

    /// <summary>Connects, creates or upgrades the schema, and starts the writers and the listener.</summary>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="WorkflowStoreException">The database cannot be reached or migrated; the message says why.</exception>
    public static async Task<PostgresWorkflowStore> OpenAsync(PostgresStoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new WorkflowStoreException(ex.Message, ex);
        }

        var store = new PostgresWorkflowStore(options);
        try
        {
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            store.writerLoops = [Task.Run(store.WriterLoopAsync, CancellationToken.None), .. Enumerable.Range(1, options.Writers - 1).Select(_ => Task.Run(store.HelperLoopAsync, CancellationToken.None))];
            if (options.Listen)
            {
                store.listenLoop = Task.Run(store.ListenLoopAsync, CancellationToken.None);
            }
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return store;
    }

    /// <inheritdoc/>
    public Task MigrateAsync(CancellationToken cancellationToken) => WithRetryAsync(
        async () =>
        {
            var db = await Db.OpenAsync(dataSource, IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            await using (db.ConfigureAwait(false))
            {

                // Processes starting at once queue here; the first applies what is missing, the others find it done.
                await db.ExecAsync("SELECT pg_advisory_xact_lock(hashtext(@k))", Db.P("k", "runbook-migrate:" + options.Schema)).ConfigureAwait(false);
                await db.ExecAsync($"CREATE SCHEMA IF NOT EXISTS {options.Schema}").ConfigureAwait(false);
                await db.ExecAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())").ConfigureAwait(false);
                var current = Convert.ToInt32(await db.ScalarAsync("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
                if (current > PostgresSchema.LatestVersion)
                {
                    throw new WorkflowStoreException($"The database {where} has schema version {current}, newer than this engine understands ({PostgresSchema.LatestVersion}). Upgrade the engine before using this database.");
                }

                foreach (var (version, sql) in PostgresSchema.Migrations)
                {
                    if (version > current)
                    {
                        await db.ExecAsync(sql).ConfigureAwait(false);
                        await db.ExecAsync("INSERT INTO schema_migrations (version) VALUES (@v)", Db.P("v", version)).ConfigureAwait(false);
                    }
                }

                await db.Transaction!.CommitAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
        },
        cancellationToken);

    /// <summary>Reads the schema version applied to the database.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The version, 0 when no migration has run.</returns>
    public Task<int> SchemaVersionAsync(CancellationToken cancellationToken) => ReadAsync(
        async db => Convert.ToInt32(await db.ScalarAsync("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture),
        cancellationToken);

    /// <summary>Gets how many times a read or a batch of writes met an unreachable or restarting database and was retried (a health figure).</summary>
    public long TransientFailures => Interlocked.Read(ref transientFailures);

    /// <summary>Gets how many write transactions this store committed (writes of many callers share one: group commit).</summary>
    public long Transactions => Interlocked.Read(ref transactions);

    /// <summary>Gets how many worker commits were applied in multi-row groups (the fast way).</summary>
    public long GroupedCommits => Interlocked.Read(ref groupedCommits);

    /// <summary>Gets how many worker commits were applied one by one, after reading their run's head (the slow way).</summary>
    public long SingleCommits => Interlocked.Read(ref singleCommits);

    /// <summary>Gets a task that completes once the listener has connected and LISTENs (tests wait for it).</summary>
    internal Task Listening => listening.Task;

    /// <inheritdoc/>
    public IDisposable SubscribeWorkAvailable(Action<string?> onWorkAvailable)
    {
        ArgumentNullException.ThrowIfNull(onWorkAvailable);
        lock (subscribersLock)
        {
            subscribers.Add(onWorkAvailable);
        }

        return new Subscription(this, onWorkAvailable);
    }

    /// <summary>
    /// Calls <paramref name="onRunEnded"/> with a run id whenever a run completes, fails or is cancelled in any
    /// process, and with null when runs may have ended unseen (after the listener reconnected).
    /// </summary>
    /// <param name="onRunEnded">The callback; it must be quick and must not throw.</param>
    /// <returns>Disposing it ends the subscription.</returns>
    public IDisposable SubscribeRunEnded(Action<string?> onRunEnded)
    {
        ArgumentNullException.ThrowIfNull(onRunEnded);
        lock (subscribersLock)
        {
            endedSubscribers.Add(onRunEnded);
        }

        return new Subscription(this, onRunEnded);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        writes.Writer.TryComplete();
        helperWake.Release(options.Writers); // helpers stop; the first writer finishes what is queued
        await Task.WhenAll(writerLoops).ConfigureAwait(false);
        await stopping.CancelAsync().ConfigureAwait(false);
        if (listenLoop is not null)
        {
            await listenLoop.ConfigureAwait(false);
        }

        stopping.Dispose();
        await dataSource.DisposeAsync().ConfigureAwait(false);
        await listenSource.DisposeAsync().ConfigureAwait(false);
    }

    private Task<T> WriteAsync<T>(Func<Db, Task<T>> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return EnqueueAsync(new WriteOperation<T>(work));
    }

    private Task<T> EnqueueAsync<T>(WriteOperation<T> op)
    {
        if (Volatile.Read(ref disposed) != 0 || !writes.Writer.TryWrite(op))
        {
            throw new ObjectDisposedException(nameof(PostgresWorkflowStore), "The store is closed.");
        }

        WakeHelperOnBacklog();
        return op.Task;
    }

    private Task<T> ReadAsync<T>(Func<Db, Task<T>> read, CancellationToken cancellationToken) => WithRetryAsync(
        async () =>
        {
            var db = await Db.OpenAsync(dataSource, null, cancellationToken).ConfigureAwait(false);
            await using (db.ConfigureAwait(false))
            {
                return await read(db).ConfigureAwait(false);
            }
        },
        cancellationToken);

    /// <summary>Runs an idempotent database action, retrying transient failures with backoff within the reconnect window.</summary>
    private async Task<T> WithRetryAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken)
    {
        var started = options.TimeProvider.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await action().ConfigureAwait(false);
            }
            catch (Exception ex) when (PostgresErrors.IsTransient(ex) && !cancellationToken.IsCancellationRequested && options.TimeProvider.GetElapsedTime(started) + delay < options.ReconnectWindow)
            {
                Interlocked.Increment(ref transientFailures);
                dataSource.Clear();
                await Task.Delay(delay, options.TimeProvider, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException)
            {
                throw PostgresErrors.Translate(ex, where);
            }
        }
    }

    private async Task WriterLoopAsync()
    {
        var batch = new List<WriteOperation>(options.MaxBatchSize);
        var reader = writes.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < options.MaxBatchSize && reader.TryRead(out var op))
            {
                batch.Add(op);
            }

            if (batch.Count > 0)
            {
                await ExecuteBatchAsync(batch).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Starts an idle helper writer when a full batch is waiting. A second transaction in flight costs the server
    /// nearly as much as the first (each statement's fixed cost, the commit) while carrying fewer commits, so one
    /// writer does the work until it falls a whole batch behind: at 64 concurrent runs that halves the
    /// transactions and cuts the CPU per step by a sixth (docs/benchmarks.md).
    /// </summary>
    private void WakeHelperOnBacklog()
    {
        if (Volatile.Read(ref idleHelpers) > 0 && HelperWanted())
        {
            if (Interlocked.Decrement(ref idleHelpers) >= 0)
            {
                helperWake.Release();
            }
            else
            {
                Interlocked.Increment(ref idleHelpers); // another producer took the last idle helper
            }
        }
    }

    private bool HelperWanted() => writes.Reader.Count >= options.MaxBatchSize;

    /// <summary>A writer beyond the first: writes batches while the backlog warrants it (see <see cref="WakeHelperOnBacklog"/>), then waits to be woken.</summary>
    private async Task HelperLoopAsync()
    {
        var batch = new List<WriteOperation>(options.MaxBatchSize);
        var reader = writes.Reader;
        while (true)
        {
            if (!HelperWanted())
            {
                Interlocked.Increment(ref idleHelpers);
                await helperWake.WaitAsync().ConfigureAwait(false);
            }

            if (Volatile.Read(ref disposed) != 0)
            {
                return;
            }

            batch.Clear();
            while (batch.Count < options.MaxBatchSize && reader.TryRead(out var op))
            {
                batch.Add(op);
            }

            if (batch.Count > 0)
            {
                await ExecuteBatchAsync(batch).ConfigureAwait(false);
            }
        }
    }

    private async Task ExecuteBatchAsync(List<WriteOperation> batch)
    {
        var pending = batch;
        var started = options.TimeProvider.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(100);
        while (pending.Count > 0)
        {
            var committing = new StrongBox<bool>(false);
            try
            {
                pending = await TryBatchAsync(pending, committing).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Every failure is handed to the waiting callers; the writer loop must survive.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                var undecided = pending.Where(o => !o.IsDone).ToList();
                if (!committing.Value && PostgresErrors.IsTransient(ex) && !stopping.IsCancellationRequested && options.TimeProvider.GetElapsedTime(started) + delay < options.ReconnectWindow)
                {
                    // Nothing of this transaction was applied: try the undecided writes again once the database answers.
                    Interlocked.Increment(ref transientFailures);
                    dataSource.Clear();
                    try
                    {
                        await Task.Delay(delay, options.TimeProvider, stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Closing: the next attempt fails fast and reports it.
                    }

                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                    pending = undecided;
                    continue;
                }

                var error = committing.Value && PostgresErrors.IsTransient(ex)
                    ? new WorkflowStoreException($"The connection to PostgreSQL at {where} broke while committing: the write may or may not have been applied ({ex.Message}). Leases make this safe: a run whose write is uncertain is resumed from what the database holds.", ex)
                    : ex is OperationCanceledException && stopping.IsCancellationRequested
                        ? new WorkflowStoreException($"The store for {where} is closing; the write was not applied.", ex)
                        : PostgresErrors.Translate(ex, where);
                foreach (var op in undecided)
                {
                    op.Fail(error);
                }

                return;
            }
        }
    }

    /// <summary>One transaction over the pending writes; returns the writes to run again (deadlock victims).</summary>
    private async Task<List<WriteOperation>> TryBatchAsync(List<WriteOperation> pending, StrongBox<bool> committing)
    {
        if (BulkCandidates(pending) is var all && all.Count == pending.Count && await TryOneRoundTripAsync(all).ConfigureAwait(false))
        {
            return [];
        }

        pending = pending.Where(op => !op.IsDone).ToList();

        var ok = new List<WriteOperation>(pending.Count);
        var again = new List<WriteOperation>();
        var wakes = new HashSet<string>(StringComparer.Ordinal);
        var ended = new HashSet<string>(StringComparer.Ordinal);
        var session = await Db.OpenAsync(dataSource, IsolationLevel.ReadCommitted, stopping.Token).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            // Worker commits whose run heads this process knows go together, as multi-row statements; the rest
            // one by one, first (a head they move sends that run's commit the slow way), and so do the commits
            // of the group if the fast way is refused.
            var bulk = BulkCandidates(pending);
            var useSavepoints = pending.Count > 1;
            await ExecuteOneByOneAsync(session, bulk.Count == 0 ? pending : pending.Where(op => !bulk.Contains(op)), useSavepoints, ok, again, wakes, ended).ConfigureAwait(false);
            if (bulk.Count > 0)
            {
                if (await TryBulkAsync(session, bulk, wakes, ended).ConfigureAwait(false))
                {
                    foreach (var op in bulk)
                    {
                        op.Grouped = true;
                    }

                    ok.AddRange(bulk);
                }
                else
                {
                    await ExecuteOneByOneAsync(session, bulk, useSavepoints, ok, again, wakes, ended).ConfigureAwait(false);
                }
            }

            if (wakes.Count > 0)
            {
                await session.ExecAsync("SELECT pg_notify(@c, q) FROM unnest(@qs) AS q", Db.P("c", channel), Db.P("qs", wakes.ToArray())).ConfigureAwait(false);
            }

            if (ended.Count > 0)
            {
                await session.ExecAsync("SELECT pg_notify(@c, id) FROM unnest(@ids) AS id", Db.P("c", endedChannel), Db.P("ids", ended.ToArray())).ConfigureAwait(false);
            }

            committing.Value = true;
            await session.Transaction!.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        Interlocked.Increment(ref transactions);
        var grouped = ok.Count(op => op is CommitOperation { Grouped: true });
        Interlocked.Add(ref groupedCommits, grouped);
        Interlocked.Add(ref singleCommits, ok.Count(op => op is CommitOperation) - grouped);

        foreach (var op in ok)
        {
            op.Complete();
        }

        return again;
    }

    /// <summary>Runs writes one after the other in the session's transaction, each in its own savepoint when <paramref name="useSavepoints"/>.</summary>
    private async Task ExecuteOneByOneAsync(Db session, IEnumerable<WriteOperation> ops, bool useSavepoints, List<WriteOperation> ok, List<WriteOperation> again, HashSet<string> wakes, HashSet<string> ended)
    {
        foreach (var op in ops)
        {
            // Each write of a group runs in its own savepoint, sent with its first statement (no extra round
            // trip) and never released: COMMIT releases them all, and ROLLBACK TO undoes only the newest.
            var db = new Db(session.Connection, session.Transaction) { Prefix = useSavepoints ? "SAVEPOINT op" : null };
            try
            {
                await op.ExecuteAsync(db).ConfigureAwait(false);
                ok.Add(op);
                wakes.UnionWith(db.Wakes);
                ended.UnionWith(db.Ended);
            }
            catch (Exception ex) when (useSavepoints && (ex is WorkflowStoreException or InvalidOperationException or FormatException || (ex is PostgresException pg && (PostgresErrors.IsStatementLevel(pg) || pg.SqlState is "40P01" or "40001"))))
            {
                if (db.PrefixSent)
                {
                    await session.ExecAsync("ROLLBACK TO SAVEPOINT op").ConfigureAwait(false);
                }

                if (ex is PostgresException { SqlState: "40P01" or "40001" })
                {
                    again.Add(op); // lost a deadlock against another process: run it again in a fresh transaction
                }
                else
                {
                    op.Fail(PostgresErrors.Translate(ex, where));
                }
            }
        }
    }

    private async Task ListenLoopAsync()
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var db = await Db.OpenAsync(listenSource, null, stopping.Token).ConfigureAwait(false);
                await using (db.ConfigureAwait(false))
                {
                    db.Connection.Notification += (_, e) => Publish(e.Channel == endedChannel ? endedSubscribers : subscribers, e.Payload);
                    await db.ExecAsync($"LISTEN {channel}; LISTEN {endedChannel}").ConfigureAwait(false);

                    // Notifications sent while we were not listening are lost: let every subscriber look once.
                    Publish(subscribers, null);
                    Publish(endedSubscribers, null);
                    listening.TrySetResult();
                    delay = TimeSpan.FromMilliseconds(100);
                    while (true)
                    {
                        await db.Connection.WaitAsync(stopping.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The listener only shortens waits; it reconnects after any failure and workers poll meanwhile.
            catch (Exception)
#pragma warning restore CA1031
            {
                try
                {
                    await Task.Delay(delay, options.TimeProvider, stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private void Publish(List<Action<string?>> list, string? payload)
    {
        Action<string?>[] targets;
        lock (subscribersLock)
        {
            targets = [.. list];
        }

        foreach (var t in targets)
        {
            t(payload);
        }
    }

    private sealed class Subscription(PostgresWorkflowStore store, Action<string?> callback) : IDisposable
    {
        public void Dispose()
        {
            lock (store.subscribersLock)
            {
                store.subscribers.Remove(callback);
                store.endedSubscribers.Remove(callback);
            }
        }
    }

    private abstract class WriteOperation
    {
        public abstract bool IsDone { get; }

        public abstract Task ExecuteAsync(Db db);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private class WriteOperation<T>(Func<Db, Task<T>> work) : WriteOperation
    {
        private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T result = default!;

        public Task<T> Task => completion.Task;

        public override bool IsDone => completion.Task.IsCompleted;

        public override async Task ExecuteAsync(Db db) => result = await work(db).ConfigureAwait(false);

        public override void Complete() => completion.TrySetResult(result);

        public override void Fail(Exception error) => completion.TrySetException(error);
    }
}
