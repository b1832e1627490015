using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server.Tests;

public sealed class RetentionTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "runbook-server-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_server_with_a_retention_prunes_old_finished_runs_and_journal_entries_a_minute_after_start_and_then_every_interval()
    {
        var time = new ManualTimeProvider();
        Directory.CreateDirectory(Path.Combine(directory, "runbooks"));
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(directory, "runbook.db") });
        var h = new Harness(store, time);
        var one = h.Registry.Add("one", async ctx => JsonValue.Create(await ctx.StepAsync("a", _ => Task.FromResult(1))));
        var waits = h.Registry.Add("waits", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            return null;
        });
        var old = (await h.Client.StartAsync(one)).Run;
        var live = (await h.Client.StartAsync(waits)).Run;
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);
        await store.AppendJournalAsync([new NewJournalEntry(time.GetUtcNow(), "alertmanager", "unmatched", "Old", null)], CancellationToken.None);
        time.Advance(TimeSpan.FromDays(31));
        var recent = (await h.Client.StartAsync(one)).Run;
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);

        var interval = TimeSpan.FromMinutes(7);
        var logs = new CapturingLoggers();
        var app = RunbookServer.Build(
            new RunbookServerOptions
            {
                Urls = ["http://127.0.0.1:0"],
                RunbookDirectories = [Path.Combine(directory, "runbooks")],
                TokensFile = Path.Combine(directory, "tokens.yaml"),
                EmbeddedWorker = false,
                Retention = TimeSpan.FromDays(30),
                RetentionInterval = interval,
            },
            store,
            store.DatabasePath,
            ActionCatalog.CreateDefault(),
            logs,
            time);
        await using (app)
        {
            var firstWait = time.WaitForTimerAsync(TimeSpan.FromMinutes(1));
            await app.StartAsync();
            await firstWait.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotNull(await store.GetRunAsync(old.RunId, CancellationToken.None)); // nothing at start

            var pruned = time.WaitForTimerAsync(interval);
            time.Advance(TimeSpan.FromMinutes(1));
            await pruned.WaitAsync(TimeSpan.FromSeconds(30)); // the pass is over once the next one is set

            Assert.Null(await store.GetRunAsync(old.RunId, CancellationToken.None));
            Assert.Equal("system:retention", (await store.GetPrunedRunAsync(old.RunId, CancellationToken.None))!.PrunedBy);
            Assert.Equal(RunStatus.Waiting, (await store.GetRunAsync(live.RunId, CancellationToken.None))!.Status); // live: never pruned
            Assert.NotNull(await store.GetRunAsync(recent.RunId, CancellationToken.None));
            Assert.Empty(await store.ListJournalAsync(new JournalQuery(), CancellationToken.None));
            Assert.Contains(logs.Lines, l => l.Contains("pruned 1 finished runs", StringComparison.Ordinal) && l.Contains("1 journal entries older than 30d", StringComparison.Ordinal));

            // The next pass, an interval later, takes what has aged past the retention since.
            var next = time.WaitForTimerAsync(interval);
            time.Advance(TimeSpan.FromDays(30) - TimeSpan.FromMinutes(1)); // moves past several passes: fired in turn
            await next.WaitAsync(TimeSpan.FromSeconds(30));
            await WaitPrunedAsync(store, time, interval, recent.RunId);
            Assert.NotNull(await store.GetRunAsync(live.RunId, CancellationToken.None));
            await app.StopAsync();
        }
    }

    /// <summary>Advances one interval at a time until the run is gone (each advance fires one pass; bounded).</summary>
    private static async Task WaitPrunedAsync(SqliteWorkflowStore store, ManualTimeProvider time, TimeSpan interval, string runId)
    {
        for (var i = 0; i < 10 && await store.GetRunAsync(runId, CancellationToken.None) is not null; i++)
        {
            var set = time.WaitForTimerAsync(interval);
            time.Advance(interval);
            await set.WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Null(await store.GetRunAsync(runId, CancellationToken.None));
    }
}
