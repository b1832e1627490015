using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite.Tests;

/// <summary>
/// A real worker process is SIGKILLed at a chosen point of a five-step run; a restarted process finishes the run.
/// The side file counts how often each step's code really ran.
/// </summary>
public sealed class CrashTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private readonly TempDatabase db = new();

    private string Side => Path.Combine(db.Directory, "executions.log");

    /// <summary>Every step execution of every host process (each writes its own file).</summary>
    private string[] Executions() =>
        [.. Directory.GetFiles(db.Directory, "executions.log.*").SelectMany(File.ReadAllLines)];

    public void Dispose() => db.Dispose();

    [Theory]
    [InlineData("before:3", new[] { 1, 1, 1, 1, 1 })] // killed after step 3's start was recorded, before its code ran
    [InlineData("during:3", new[] { 1, 1, 2, 1, 1 })] // killed while step 3's code ran: it runs again, at most twice
    [InlineData("after:3", new[] { 1, 1, 1, 1, 1 })] // killed right after step 3's completion was committed
    public async Task A_killed_worker_loses_nothing_and_reruns_only_the_interrupted_step(string crash, int[] expectedExecutions)
    {
        var runId = (await HostProcess.RunToEndAsync(Limit, "start", db.Path, "1", "crash")).Trim();

        using (var doomed = HostProcess.Start("work", db.Path, Side, crash, "1000"))
        {
            await doomed.WaitForCrashPointAsync(Limit);
            await doomed.KillAsync();
        }

        // The restarted worker takes over once the dead one's 1 s lease has run out; its own lease is long, so a
        // slow start on a loaded machine cannot make it lose the run to itself and run a step once more.
        var output = await HostProcess.RunToEndAsync(Limit, "work", db.Path, Side, "none", "30000");
        Assert.Contains("DONE", output, StringComparison.Ordinal);

        var executions = Executions().Select(l => l.Split(' ')).ToList();
        Assert.All(executions, e => Assert.Equal(runId, e[0]));
        var counts = Enumerable.Range(1, 5).Select(i => executions.Count(e => e[1] == $"s{i}")).ToArray();
        Assert.Equal(expectedExecutions, counts);

        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        var run = await store.GetRunAsync(runId, CancellationToken.None);
        Assert.Equal(RunStatus.Completed, run!.Status);
        Assert.Equal("15", run.Output);

        var timeline = await store.GetTimelineAsync(runId, 0, 10_000, CancellationToken.None);
        Assert.Null(TimelineChain.Verify(timeline));
        Assert.Equal("run.created", timeline[0].Kind);
        Assert.Equal("run.completed", timeline[^1].Kind);
        Assert.Single(timeline, e => e.Kind == "run.recovered");
        Assert.Single(timeline, e => e.Kind == "step.interrupted");
        for (var i = 1; i <= 5; i++)
        {
            Assert.Single(timeline, e => e.Kind == "step.completed" && e.Data!.Contains($"\"step\":\"s{i}\"", StringComparison.Ordinal));
        }

        // The completions appear in step order.
        var completedOrder = timeline.Where(e => e.Kind == "step.completed").Select(e => e.Data!).ToList();
        Assert.Equal(Enumerable.Range(1, 5).Select(i => $"s{i}"), completedOrder.Select(d => d.Split("\"step\":\"")[1].Split('"')[0]));
    }

    [Fact]
    public async Task Progress_saved_by_an_attempt_reaches_the_next_attempt_after_its_worker_is_killed()
    {
        var runId = (await HostProcess.RunToEndAsync(Limit, "start", db.Path, "1", "progress")).Trim();

        using (var doomed = HostProcess.Start("work", db.Path, Side, "progress:3", "1000"))
        {
            await doomed.WaitForCrashPointAsync(Limit);
            await doomed.KillAsync();
        }

        // The restarted worker takes over once the dead one's 1 s lease has run out; its own lease is long, so a
        // slow start on a loaded machine cannot make it lose the run to itself and run a step once more.
        var output = await HostProcess.RunToEndAsync(Limit, "work", db.Path, Side, "none", "30000");
        Assert.Contains("DONE", output, StringComparison.Ordinal);

        // Attempt 1 of s3 saved "op-1" and was killed; attempt 2 was handed it (and so would not start it again).
        var s3 = Executions().Select(l => l.Split(' ')).Where(e => e[1] == "s3").Select(e => (e[2], e[3])).Order().ToList();
        Assert.Equal([("1", "-"), ("2", "op-1")], s3);

        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        Assert.Equal(RunStatus.Completed, (await store.GetRunAsync(runId, CancellationToken.None))!.Status);
        var timeline = await store.GetTimelineAsync(runId, 0, 10_000, CancellationToken.None);
        Assert.Null(TimelineChain.Verify(timeline));
        var progress = Assert.Single(timeline, e => e.Kind == "step.progress");
        Assert.Equal("""{"seq":3,"step":"s3","attempt":1,"progress":{"operation":"op-1"}}""", progress.Data);
        Assert.True(progress.Sequence < timeline.Single(e => e.Kind == "step.interrupted").Sequence);
    }

    [Theory]
    [InlineData("before:3", new[] { 1, 1, 1, 1, 1 })]
    [InlineData("during:3", new[] { 1, 1, 2, 1, 1 })]
    [InlineData("after:3", new[] { 1, 1, 1, 1, 1 })]
    public async Task A_killed_worker_running_a_csharp_script_runbook_loses_nothing_and_reruns_only_the_interrupted_step(string crash, int[] expectedExecutions)
    {
        var runId = (await HostProcess.RunToEndAsync(Limit, "start-script", db.Path, "1", "crash")).Trim().Split('\n')[0].Trim();

        using (var doomed = HostProcess.Start("work", db.Path, Side, crash, "1000"))
        {
            await doomed.WaitForCrashPointAsync(Limit);
            await doomed.KillAsync();
        }

        // The restarted worker replays the script from history; the compiled script comes from the disk cache.
        // The restarted worker takes over once the dead one's 1 s lease has run out; its own lease is long, so a
        // slow start on a loaded machine cannot make it lose the run to itself and run a step once more.
        var output = await HostProcess.RunToEndAsync(Limit, "work", db.Path, Side, "none", "30000");
        Assert.Contains("COMPILED 0", output, StringComparison.Ordinal);
        Assert.Contains("DONE", output, StringComparison.Ordinal);

        var executions = Executions().Select(l => l.Split(' ')).ToList();
        Assert.All(executions, e => Assert.Equal(runId, e[0]));
        Assert.Equal(expectedExecutions, Enumerable.Range(1, 5).Select(i => executions.Count(e => e[1] == $"s{i}")).ToArray());

        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        var run = await store.GetRunAsync(runId, CancellationToken.None);
        Assert.Equal(RunStatus.Completed, run!.Status);
        Assert.Equal("{\"total\":15}", run.Output);
        var timeline = await store.GetTimelineAsync(runId, 0, 10_000, CancellationToken.None);
        Assert.Null(TimelineChain.Verify(timeline));
        Assert.Single(timeline, e => e.Kind == "run.recovered");
        Assert.Single(timeline, e => e.Kind == "step.interrupted");
        Assert.Equal(
            Enumerable.Range(1, 5).Select(i => $"s{i}"),
            timeline.Where(e => e.Kind == "step.completed").Select(e => e.Data!.Split("\"step\":\"")[1].Split('"')[0]));
    }

    [Fact]
    public async Task Two_worker_processes_share_one_database_file_and_run_each_step_once()
    {
        await HostProcess.RunToEndAsync(Limit, "start", db.Path, "12", "shared");
        using var a = HostProcess.Start("work", db.Path, Side, "none", "5000");
        using var b = HostProcess.Start("work", db.Path, Side, "none", "5000");
        Assert.Equal(0, await a.WaitForExitAsync(Limit));
        Assert.Equal(0, await b.WaitForExitAsync(Limit));

        var executions = Executions();
        Assert.Equal(12 * 5, executions.Length);
        Assert.Equal(12 * 5, executions.Select(l => string.Join(' ', l.Split(' ')[..2])).Distinct().Count());

        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });
        var runs = await store.ListRunsAsync(new RunQuery { Limit = 100 }, CancellationToken.None);
        Assert.Equal(12, runs.Count);
        Assert.All(runs, r => Assert.Equal(RunStatus.Completed, r.Status));
    }
}
