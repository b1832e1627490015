using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// The SQLite crash tests on PostgreSQL: a real worker process (tests/RunbookEngine.CrashHost) on a PostgreSQL
/// schema is SIGKILLed before, during and right after a step; a restarted process finishes the run. The side
/// files count how often each step's code really ran.
/// </summary>
public sealed class CrashTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private readonly string dir = Path.Combine(Path.GetTempPath(), "rb-pgcrash-" + Guid.NewGuid().ToString("N")[..8]);
    private PgTest pg = null!;

    private string Db => $"pg|{pg.Schema}|{pg.ConnectionString}";

    private string Side => Path.Combine(dir, "executions.log");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(dir);
        pg = await PgTest.CreateAsync();
    }

    public async Task DisposeAsync()
    {
        await pg.DisposeAsync();
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("before:3", new[] { 1, 1, 1, 1, 1 })] // killed after step 3's start was committed, before its code ran
    [InlineData("during:3", new[] { 1, 1, 2, 1, 1 })] // killed while step 3's code ran: it runs again
    [InlineData("after:3", new[] { 1, 1, 1, 1, 1 })] // killed right after step 3's completion was committed
    public async Task A_killed_worker_loses_nothing_and_reruns_only_the_interrupted_step(string crash, int[] expectedExecutions)
    {
        var runId = (await HostProcess.RunToEndAsync(Limit, "start", Db, "1", "crash")).Trim();

        using (var doomed = HostProcess.Start("work", Db, Side, crash, "1000"))
        {
            await doomed.WaitForCrashPointAsync(Limit);
            await doomed.KillAsync();
        }

        // The restarted worker takes over once the dead one's 1 s lease has run out; its own lease is long, so a
        // slow start on a loaded machine cannot make it lose the run to itself and run a step once more.
        var output = await HostProcess.RunToEndAsync(Limit, "work", Db, Side, "none", "30000");
        Assert.Contains("DONE", output, StringComparison.Ordinal);

        var executions = Directory.GetFiles(dir, "executions.log.*").SelectMany(File.ReadAllLines).Select(l => l.Split(' ')).ToList();
        Assert.All(executions, e => Assert.Equal(runId, e[0]));
        Assert.Equal(expectedExecutions, Enumerable.Range(1, 5).Select(i => executions.Count(e => e[1] == $"s{i}")).ToArray());

        var store = await pg.OpenAsync();
        var run = await store.GetRunAsync(runId, CancellationToken.None);
        Assert.Equal(RunStatus.Completed, run!.Status);
        Assert.Equal("15", run.Output);
        var timeline = await store.GetTimelineAsync(runId, 0, 10_000, CancellationToken.None);
        Assert.Null(TimelineChain.Verify(timeline));
        Assert.Single(timeline, e => e.Kind == "run.recovered");
        for (var i = 1; i <= 5; i++)
        {
            Assert.Single(timeline, e => e.Kind == "step.completed" && e.Data!.Contains($"\"step\":\"s{i}\"", StringComparison.Ordinal));
        }
    }
}
