using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite.Tests;

public sealed class SqliteStoreFailureTests : IDisposable
{
    private readonly TempDatabase db = new();

    public void Dispose() => db.Dispose();

    [Fact]
    public async Task Opening_creates_the_directory_and_the_schema_idempotently()
    {
        var path = Path.Combine(db.Directory, "nested", "deeper", "runbook.db");
        await using (var first = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = path }))
        {
            Assert.Equal(path, first.DatabasePath);
        }

        await using var second = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = path });
        await second.MigrateAsync(CancellationToken.None);
        Assert.True(File.Exists(path));
        Assert.Equal("wal", Pragma(path, "journal_mode"));
        Assert.Equal(10L, Scalar(path, "SELECT COUNT(*) FROM schema_migrations")); // each of the 10 migrations once
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_refused_with_a_clear_error_and_left_untouched()
    {
        var garbage = "this is my shell history, not a database\n" + new string('x', 5000);
        await File.WriteAllTextAsync(db.Path, garbage);

        var ex = await Assert.ThrowsAsync<WorkflowStoreException>(() => SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path }));

        Assert.Contains(db.Path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt or is not a RunbookEngine SQLite database", ex.Message, StringComparison.Ordinal);
        Assert.Equal(garbage, await File.ReadAllTextAsync(db.Path));
    }

    [Fact]
    public async Task A_directory_given_as_the_database_path_is_refused()
    {
        var ex = await Assert.ThrowsAsync<WorkflowStoreException>(() => SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Directory }));
        Assert.Contains("is a directory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_path_under_a_regular_file_cannot_be_created_and_says_so()
    {
        var file = Path.Combine(db.Directory, "not-a-dir");
        await File.WriteAllTextAsync(file, "x");
        var ex = await Assert.ThrowsAsync<WorkflowStoreException>(() => SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(file, "runbook.db") }));
        Assert.Contains("Cannot create the directory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_locked_by_another_process_fails_the_write_after_the_busy_timeout_and_loses_nothing()
    {
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path, BusyTimeout = TimeSpan.FromMilliseconds(200) });
        var client = new WorkflowClient(store, new ManualTimeProvider());
        var def = new WorkflowDefinition("noop", "code:1");
        var kept = (await client.StartAsync(def)).Run;

        using (var holder = new SqliteConnection($"Data Source={db.Path}"))
        {
            await holder.OpenAsync();
            using var tx = holder.BeginTransaction(deferred: false); // holds the write lock, like another process mid-write
            var ex = await Assert.ThrowsAsync<WorkflowStoreException>(() => client.StartAsync(def));
            Assert.Contains("is locked by another process", ex.Message, StringComparison.Ordinal);
            Assert.Contains(db.Path, ex.Message, StringComparison.Ordinal);
        }

        var again = await client.StartAsync(def);
        Assert.True(again.Created);
        Assert.Equal(2, (await client.ListRunsAsync()).Count);
        Assert.NotNull(await client.GetRunAsync(kept.RunId));
    }

    [Fact]
    public async Task A_full_database_fails_the_write_clearly_and_keeps_what_was_committed()
    {
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        var pages = Scalar(db.Path, "PRAGMA page_count");
        await store.DisposeAsync();

        await using var capped = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path, MaxPageCount = (long)pages! + 4 });
        var client = new WorkflowClient(capped, new ManualTimeProvider());
        var def = new WorkflowDefinition("noop", "code:1");
        var started = new List<string>();
        var big = new JsonObject { ["blob"] = new string('z', 3000) };
        WorkflowStoreException? full = null;
        for (var i = 0; i < 200 && full is null; i++)
        {
            try
            {
                started.Add((await client.StartAsync(def, new StartRunOptions { Input = big })).Run.RunId);
            }
            catch (WorkflowStoreException ex)
            {
                full = ex;
            }
        }

        Assert.NotNull(full);
        Assert.Contains("is full", full!.Message, StringComparison.Ordinal);
        Assert.NotEmpty(started);
        foreach (var id in started)
        {
            Assert.NotNull(await client.GetRunAsync(id));
        }

        Assert.Equal(started.Count, (await client.ListRunsAsync(new RunQuery { Limit = 1000 })).Count);
    }

    [Fact]
    public async Task A_database_from_a_newer_engine_is_refused()
    {
        await using (var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path }))
        {
        }

        Execute(db.Path, "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)");
        var ex = await Assert.ThrowsAsync<WorkflowStoreException>(() => SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path }));
        Assert.Contains("schema version 99", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_timeline_table_refuses_updates_and_deletes()
    {
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        var run = (await new WorkflowClient(store).StartAsync(new WorkflowDefinition("noop", "code:1"))).Run;

        var update = Assert.Throws<SqliteException>(() => Execute(db.Path, $"UPDATE timeline SET actor = 'user:mallory' WHERE run_id = '{run.RunId}'"));
        Assert.Contains("append-only", update.Message, StringComparison.Ordinal);
        var delete = Assert.Throws<SqliteException>(() => Execute(db.Path, $"DELETE FROM timeline WHERE run_id = '{run.RunId}'"));
        Assert.Contains("append-only", delete.Message, StringComparison.Ordinal);

        // The journal of what was received for no run, likewise.
        await store.AppendJournalAsync([new NewJournalEntry(DateTimeOffset.UnixEpoch, "alertmanager", "unmatched", "Watchdog", null)], CancellationToken.None);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, "UPDATE journal SET kind = 'started'")).Message, StringComparison.Ordinal);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, "DELETE FROM journal")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pruned_run_leaves_no_row_behind_and_what_records_the_prune_is_append_only()
    {
        var time = new ManualTimeProvider();
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        var h = new Harness(store, time);
        var def = h.Registry.Add("waits", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            await ctx.StepAsync("after", _ => Task.FromResult(1));
            return null;
        });
        var pruned = (await h.Client.StartAsync(def)).Run;
        var kept = (await h.Client.StartAsync(def)).Run;
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);
        await h.Client.SignalAsync(pruned.RunId, "go", null, "user:alice");
        await h.Client.SignalAsync(kept.RunId, "not-yet", null, "user:alice"); // kept waits for "go": this one stays pending
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);

        await store.AppendJournalAsync([new NewJournalEntry(time.GetUtcNow(), "alertmanager", "unmatched", "Old", null)], CancellationToken.None);
        time.Advance(TimeSpan.FromDays(2));
        Assert.Single(await store.PruneRunsAsync(new RunPruning(time.GetUtcNow() - TimeSpan.FromDays(1), 10, "user:ops", time.GetUtcNow()), CancellationToken.None));
        Assert.Equal(1, await store.PruneJournalAsync(new JournalPruning(time.GetUtcNow() - TimeSpan.FromDays(1), 10, "user:ops", time.GetUtcNow()), CancellationToken.None));

        foreach (var table in (string[])["runs", "steps", "signals", "timeline"])
        {
            Assert.Equal(0L, Scalar(db.Path, $"SELECT COUNT(*) FROM {table} WHERE run_id = '{pruned.RunId}'"));
            Assert.NotEqual(0L, Scalar(db.Path, $"SELECT COUNT(*) FROM {table} WHERE run_id = '{kept.RunId}'"));
        }

        // Only a tombstone lets a run's events go, and the tombstones and the journal's prune records stay.
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, $"DELETE FROM timeline WHERE run_id = '{kept.RunId}'")).Message, StringComparison.Ordinal);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, "DELETE FROM pruned_runs")).Message, StringComparison.Ordinal);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, "UPDATE pruned_runs SET pruned_by = 'user:mallory'")).Message, StringComparison.Ordinal);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, "DELETE FROM journal_prunes")).Message, StringComparison.Ordinal);
        Assert.Equal(1L, Scalar(db.Path, "SELECT COUNT(*) FROM journal_prunes WHERE count = 1 AND actor = 'user:ops'"));
        await store.AppendJournalAsync([new NewJournalEntry(time.GetUtcNow(), "alertmanager", "unmatched", "New", null)], CancellationToken.None);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => Execute(db.Path, "DELETE FROM journal")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Synchronous_normal_is_applied_when_chosen()
    {
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path, Synchronous = SqliteSynchronous.Normal });
        var run = (await new WorkflowClient(store).StartAsync(new WorkflowDefinition("noop", "code:1"))).Run;
        Assert.NotNull(await store.GetRunAsync(run.RunId, CancellationToken.None));
    }

    private static object? Scalar(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    private static string? Pragma(string path, string name) => Scalar(path, "PRAGMA " + name) as string;

    private static void Execute(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
