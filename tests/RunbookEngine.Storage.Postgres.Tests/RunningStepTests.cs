using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// The inline step a run executes is held on the run's row (runs.running_step) and written to steps once, when it
/// ends; the history reads it as a steps row would be read. Commits alternate between two stores of one database,
/// so that both the grouped way (a head this process wrote) and the one-by-one way (a head another process moved)
/// write and clear it.
/// </summary>
public sealed class RunningStepTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 8, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_running_inline_step_is_held_on_its_runs_row_and_written_to_steps_once_when_it_ends()
    {
        await using var pg = await PgTest.CreateAsync();
        var a = await pg.OpenAsync(o => o with { Listen = false });
        var b = await pg.OpenAsync(o => o with { Listen = false, InlinePayloadLimit = 100 });
        await a.StartRunAsync(new NewRun("r1", new WorkflowDefinition("wf", "content-of-wf"), "default", null, null, "user:test", T0), CancellationToken.None);
        Assert.Single(await a.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 1, T0, TimeSpan.FromSeconds(30)), CancellationToken.None));
        var at = T0;

        async Task<List<StepRecord>> CommitAsync(PostgresWorkflowStore store, params StepWrite[] writes)
        {
            at = at.AddSeconds(1);
            await store.CommitAsync(new RunCommit("r1", "w1", at, null, writes, [], null, false, [new NewTimelineEvent(at, "worker:w1", "step.progress", null)], at.AddSeconds(30)), CancellationToken.None);
            var history = (await a.LoadHistoryAsync("r1", CancellationToken.None))!;
            Assert.Equal(history.Steps, (await b.LoadHistoryAsync("r1", CancellationToken.None))!.Steps);
            return [.. history.Steps];
        }

        Task<long> RowsAsync() => pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r1'");
        Task<bool> HeldAsync() => pg.ScalarAsync<bool>("SELECT running_step IS NOT NULL FROM runs WHERE run_id = 'r1'");
        static StepRecord Step(int seq, StepStatus status, int attempt = 1) =>
            new(seq, $"s{seq}", StepKind.Inline, status, attempt, null, null, null, null, null, null, null, null, T0.AddMilliseconds(1234), null, null, null);

        // Step 1 starts: held on the run's row, no steps row; the history shows it running, as it was written.
        var running1 = Step(1, StepStatus.Running);
        Assert.Equal([running1], await CommitAsync(a, new StepWrite(running1, IsNew: true)));
        Assert.Equal(0, await RowsAsync());
        Assert.True(await HeldAsync());

        // Step 1 ends and step 2 starts, in one commit (written by the other process, one by one).
        var done1 = running1 with { Status = StepStatus.Completed, Output = "1", CompletedAt = T0.AddSeconds(2) };
        var running2 = Step(2, StepStatus.Running) with { Activity = "shell", Input = "{\"command\":\"df -h\"}" };
        Assert.Equal([done1, running2], await CommitAsync(b, new StepWrite(done1, IsNew: false), new StepWrite(running2, IsNew: true)));
        Assert.Equal(1, await RowsAsync());

        // A commit of events only (saved progress) leaves the running step as it is.
        Assert.Equal([done1, running2], await CommitAsync(b));

        // Step 2 fails and waits to be retried: its row is written; nothing is held.
        var retrying2 = running2 with { Status = StepStatus.Retrying, ErrorKind = "Timeout", ErrorMessage = "timed out", AvailableAt = T0.AddSeconds(9) };
        Assert.Equal([done1, retrying2], await CommitAsync(a, new StepWrite(retrying2, IsNew: false)));
        Assert.Equal(2, await RowsAsync());
        Assert.False(await HeldAsync());

        // Its second attempt is held over its row, which the history shows in its place.
        var again2 = running2 with { Attempt = 2 };
        Assert.Equal([done1, again2], await CommitAsync(b, new StepWrite(again2, IsNew: false)));

        // It completes; step 3 starts with an input too large to keep inline, so it keeps a steps row of its own.
        var done2 = again2 with { Status = StepStatus.Completed, Output = "2", CompletedAt = T0.AddSeconds(12) };
        var running3 = Step(3, StepStatus.Running) with { Activity = "shell", Input = "{\"command\":\"" + new string('x', 200) + "\"}" };
        Assert.Equal([done1, done2, running3], await CommitAsync(b, new StepWrite(done2, IsNew: false), new StepWrite(running3, IsNew: true)));
        Assert.Equal(3, await RowsAsync());
        Assert.False(await HeldAsync());
        Assert.Equal("running", await pg.ScalarAsync<string>("SELECT status FROM steps WHERE run_id = 'r1' AND seq = 3"));

        var done3 = running3 with { Status = StepStatus.Completed, Output = "3", CompletedAt = T0.AddSeconds(13) };
        Assert.Equal([done1, done2, done3], await CommitAsync(a, new StepWrite(done3, IsNew: false)));
        Assert.Equal(3, await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r1' AND status = 'completed'"));
        Assert.False(await HeldAsync());

        // A held step left behind by a process of an older version (which ended the step in its row without
        // clearing it) never hides what the rows say happened.
        foreach (var stale in (string[])["{\"seq\":2,\"name\":\"s2\",\"attempt\":1}", "{\"seq\":3,\"name\":\"s3\",\"attempt\":1}"])
        {
            await pg.ScalarAsync<int>("UPDATE runs SET running_step = @s WHERE run_id = 'r1' RETURNING 1", new Npgsql.NpgsqlParameter("s", stale));
            Assert.Equal([done1, done2, done3], (await a.LoadHistoryAsync("r1", CancellationToken.None))!.Steps);
        }
    }
}
