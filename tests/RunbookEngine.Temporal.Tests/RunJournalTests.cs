using System.Text.Json.Nodes;
using RunbookEngine.Runbooks;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Temporal.Tests;

/// <summary>
/// What a Temporal run shows through our CLI: the journal the workflow keeps (replayed from a history as a server
/// records it), as the kernel's timeline with its hash chain and as the kernel's run history, so `runbook
/// timeline`, `status` and `approve` read a Temporal run like a kernel run.
/// </summary>
public sealed class RunJournalTests
{
    [Fact]
    public async Task A_granted_approval_reads_as_the_kernels_timeline_with_an_intact_chain()
    {
        var history = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate));
        var timer = history.NextEventId;
        history.TimerStarted(1, TimeSpan.FromMinutes(30))
            .Signaled(RunbookTemporalWorkflow.SignalName, new TemporalSignal("approval:ok", new JsonObject { ["decision"] = "approve", ["comment"] = "graphs look fine" }, "user:bob"), TimeSpan.FromMinutes(5))
            .TimerCanceled(1, timer)
            .ActivityCompleted("4:after:action:log", "action:log", null, new JsonObject { ["message"] = "approved" })
            .Completed(new JsonObject());

        var journal = await ReplayHarness.JournalAfterAsync(history);
        var timeline = TemporalRunClient.Timeline(ReplayHarness.RunId, journal);

        Assert.Equal(
            ["run.created", "approval.requested", "wait.started", "signal.received", "signal.consumed", "approval.granted", "step.scheduled", "step.completed", "run.completed"],
            timeline.Select(e => e.Kind));
        Assert.Null(TimelineChain.Verify(timeline));
        Assert.Equal("user:alice", timeline[0].Actor);
        Assert.Equal("user:bob", timeline[3].Actor);
        Assert.Equal("user:bob", JsonNode.Parse(timeline[5].Data!)!["by"]!.GetValue<string>());
        Assert.InRange(timeline[3].At - timeline[2].At, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5.1));

        var tampered = timeline.Select(e => e.Sequence == 6 ? e with { Data = e.Data!.Replace("user:bob", "user:mallory", StringComparison.Ordinal) } : e).ToList();
        Assert.Equal(6, TimelineChain.Verify(tampered)?.Sequence);
    }

    [Fact]
    public async Task A_run_waiting_for_its_approval_shows_the_pending_gate_and_its_deadline()
    {
        var history = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate)).TimerStarted(1, TimeSpan.FromMinutes(30));

        var journal = await ReplayHarness.JournalAfterAsync(history);
        var run = TemporalRunClient.History(Running(), journal);

        Assert.Equal(RunStatus.Waiting, run.Run.Status);
        var pending = ApprovalRules.Pending(run);
        Assert.Equal("ok", pending?.StepId);
        Assert.NotNull(pending?.Until);
        Assert.InRange(pending.Value.Until!.Value, new DateTimeOffset(2026, 12, 6, 12, 30, 0, TimeSpan.Zero), new DateTimeOffset(2026, 12, 6, 12, 30, 1, TimeSpan.Zero));
    }

    [Fact]
    public async Task A_run_running_an_action_shows_it_running_and_its_outputs_once_done()
    {
        var running = await ReplayHarness.JournalAfterAsync(ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate.Replace("timeout: 30m", "timeout: 30m, on_timeout: approve", StringComparison.Ordinal))).TimerFired(1, TimeSpan.FromMinutes(30)));
        Assert.Equal(RunStatus.Running, TemporalRunClient.History(Running(), running).Run.Status);
        Assert.Contains(running.Steps, s => s is { Kind: StepKind.Activity, Status: StepStatus.Queued, Activity: "action:log", Name: "after" });

        var timedOut = TemporalRunClient.Timeline(ReplayHarness.RunId, running).Select(e => e.Kind).ToList();
        Assert.Contains("wait.timed_out", timedOut);
        Assert.Contains("approval.timed_out", timedOut);
    }

    [Fact]
    public async Task A_cancelled_run_records_who_cancelled_it_and_why()
    {
        var input = ReplayHarness.Input(ReplayHarness.Gate.Replace(", timeout: 30m", string.Empty, StringComparison.Ordinal));
        var history = ReplayHarness.History(input)
            .Signaled(RunbookTemporalWorkflow.SignalName, new TemporalSignal(RunbookTemporalWorkflow.CancelSignal, new JsonObject { ["reason"] = "false alarm" }, "user:carol"), TimeSpan.FromMinutes(2))
            .CancelRequested(TimeSpan.Zero)
            .Canceled();

        var timeline = TemporalRunClient.Timeline(ReplayHarness.RunId, await ReplayHarness.JournalAfterAsync(history));

        var requested = Assert.Single(timeline, e => e.Kind == "run.cancel_requested");
        Assert.Equal("user:carol", requested.Actor);
        var cancelled = Assert.Single(timeline, e => e.Kind == "run.cancelled");
        Assert.Equal("false alarm", JsonNode.Parse(cancelled.Data!)!["reason"]!.GetValue<string>());
        Assert.Equal("user:carol", JsonNode.Parse(cancelled.Data!)!["requested_by"]!.GetValue<string>());
        Assert.Equal("run.cancelled", timeline[^1].Kind);
    }

    [Fact]
    public async Task A_failed_step_and_the_failed_run_carry_the_error_kind()
    {
        var input = ReplayHarness.Input("""
            name: check
            steps:
              - id: probe
                action: shell
                with: { command: ["false"] }
            """);
        var history = ReplayHarness.History(input)
            .ActivityFailed("1:probe:action:shell", "action:shell", null, "ExitCode", "`false` exited with code 1")
            .Failed("ExitCode", "`false` exited with code 1");

        var journal = await ReplayHarness.JournalAfterAsync(history);

        var step = Assert.Single(journal.Steps);
        Assert.Equal((StepStatus.Failed, "ExitCode"), (step.Status, step.ErrorKind));
        var failed = journal.Events[^1];
        Assert.Equal("run.failed", failed.Kind);
        Assert.Equal("ExitCode", JsonNode.Parse(failed.Data!)!["error_kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_guarded_run_records_the_guards_decision_after_its_creation_and_a_blocked_one_ends_at_once()
    {
        const string yaml = """
            name: restart
            steps:
              - id: go
                action: log
                with: { message: restarting }
            """;
        var allowed = ReplayHarness.Input(yaml) with { GuardKind = TimelineKinds.GuardAllowed, GuardData = """{"key":"restart/web-1","reason":"no live run"}""" };
        var history = ReplayHarness.History(allowed)
            .ActivityCompleted("1:go:action:log", "action:log", null, new JsonObject { ["message"] = "restarting" })
            .Completed(new JsonObject());
        var journal = await ReplayHarness.JournalAfterAsync(history);
        var timeline = TemporalRunClient.Timeline(ReplayHarness.RunId, journal);
        Assert.Equal(["run.created", "guard.allowed", "step.scheduled", "step.completed", "run.completed"], timeline.Select(e => e.Kind));
        Assert.Equal(("guard", "restart/web-1"), (timeline[1].Actor, JsonNode.Parse(timeline[1].Data!)!["key"]!.GetValue<string>()));
        Assert.Null(TimelineChain.Verify(timeline));

        // Refused: the workflow runs nothing and fails as GuardBlocked, which the client shows as blocked.
        var refused = ReplayHarness.Input(yaml) with { Blocked = "breaker open: 3 failures in 1h", GuardKind = TimelineKinds.GuardBlocked, GuardData = """{"key":"restart/web-1","reason":"breaker open"}""" };
        var blocked = await ReplayHarness.JournalAfterAsync(ReplayHarness.History(refused).Failed(RunbookTemporalWorkflow.BlockedErrorType, "breaker open: 3 failures in 1h"));
        Assert.Equal(["run.created", "guard.blocked", "run.failed"], TemporalRunClient.Timeline(ReplayHarness.RunId, blocked).Select(e => e.Kind));
        Assert.Empty(blocked.Steps);

        // A history where the blocked run went on to run its step is not this workflow's.
        var wrong = ReplayHarness.History(refused)
            .ActivityCompleted("1:go:action:log", "action:log", null, new JsonObject { ["message"] = "restarting" })
            .Completed(new JsonObject());
        var replay = await ReplayHarness.ReplayAsync(wrong);
        Assert.NotNull(replay.ReplayFailure);
    }

    private static RunRecord Running() =>
        new(ReplayHarness.RunId, "gate", "hash", "runbooks", RunStatus.Running, null, null, null, null, null, "user:alice", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, null, null, null, null, false, null, null, 0);
}
