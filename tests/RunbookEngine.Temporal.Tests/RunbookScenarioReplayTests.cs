using System.Text.Json.Nodes;
using Temporalio.Exceptions;

namespace RunbookEngine.Temporal.Tests;

/// <summary>
/// The tricky paths of a runbook on Temporal, each as the history a server would record, replayed through the SDK's
/// replayer: retries, failures routed by on_failure, failures that fail the run, timeouts, approvals granted,
/// refused, rejected and timed out, and cancellation. Each also has a wrong ending that must be caught, so a replay
/// that passes means the interpreter really takes that path.
/// </summary>
public sealed class RunbookScenarioReplayTests
{
    private static readonly JsonObject Approved = new() { ["message"] = "approved" };

    [Fact]
    public async Task A_step_whose_activity_succeeded_on_its_third_attempt_replays_as_one_step()
    {
        // Temporal retries on the server: the history holds one scheduled activity and the attempt that completed it.
        var input = ReplayHarness.Input("""
            name: flaky
            steps:
              - id: flaky
                action: shell
                with: { command: ["true"] }
                retry: { max_attempts: 3, initial_interval: 10s, backoff: 2 }
            """);
        var history = ReplayHarness.History(input)
            .ActivityCompleted("1:flaky:action:shell", "action:shell", null, new JsonObject { ["exit_code"] = 0 }, attempt: 3)
            .Completed(new JsonObject());

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);
    }

    [Fact]
    public async Task A_failed_step_with_on_failure_continue_goes_on_to_the_next_step()
    {
        var input = ReplayHarness.Input(Routes("continue"));
        var history = ReplayHarness.History(input)
            .ActivityFailed("1:soft:action:shell", "action:shell", null, "CommandFailed", "exit code 1")
            .ActivityCompleted("3:after:action:log", "action:log", null, new JsonObject { ["message"] = "after" })
            .Completed(new JsonObject { ["soft"] = "failed" });

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);
    }

    [Fact]
    public async Task A_failed_step_without_on_failure_fails_the_run_with_its_error_kind()
    {
        var input = ReplayHarness.Input(Routes("abort"));
        var failed = ReplayHarness.History(input)
            .ActivityFailed("1:soft:action:shell", "action:shell", null, "CommandFailed", "exit code 1")
            .Failed("CommandFailed", "exit code 1");
        Assert.Null((await ReplayHarness.ReplayAsync(failed)).ReplayFailure);

        // Had the interpreter gone on after the failure, it would have scheduled the next step instead of failing.
        var wentOn = ReplayHarness.History(input)
            .ActivityFailed("1:soft:action:shell", "action:shell", null, "CommandFailed", "exit code 1")
            .ActivityCompleted("3:after:action:log", "action:log", null, new JsonObject { ["message"] = "after" })
            .Completed(new JsonObject());
        Assert.IsType<WorkflowNondeterminismException>((await ReplayHarness.ReplayAsync(wentOn)).ReplayFailure);
    }

    [Fact]
    public async Task A_step_whose_attempts_timed_out_fails_the_run_unless_on_failure_routes_it()
    {
        var stops = ReplayHarness.History(ReplayHarness.Input(Routes("abort")))
            .ActivityTimedOut("1:soft:action:shell", "action:shell", null)
            .Failed("Timeout", "the step timed out");
        Assert.Null((await ReplayHarness.ReplayAsync(stops)).ReplayFailure);

        var goesOn = ReplayHarness.History(ReplayHarness.Input(Routes("continue")))
            .ActivityTimedOut("1:soft:action:shell", "action:shell", null, "ScheduleToClose")
            .ActivityCompleted("3:after:action:log", "action:log", null, new JsonObject { ["message"] = "after" })
            .Completed(new JsonObject { ["soft"] = "failed" });
        Assert.Null((await ReplayHarness.ReplayAsync(goesOn)).ReplayFailure);
    }

    [Fact]
    public async Task An_approval_granted_by_an_approver_cancels_its_deadline_and_runs_the_next_step()
    {
        var history = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate));
        var timer = history.NextEventId;
        history.TimerStarted(1, TimeSpan.FromMinutes(30))
            .Signaled(RunbookTemporalWorkflow.SignalName, Decision("approve", "user:bob"), TimeSpan.FromMinutes(5))
            .TimerCanceled(1, timer)
            .ActivityCompleted("4:after:action:log", "action:log", null, Approved)
            .Completed(new JsonObject());

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);
    }

    [Fact]
    public async Task A_decision_from_someone_who_may_not_approve_is_refused_and_the_gate_waits_on()
    {
        // Mallory is not an approver: the workflow itself refuses her decision and starts a new wait for the time
        // left; Bob's decision then passes the gate.
        var history = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate));
        var first = history.NextEventId;
        history.TimerStarted(1, TimeSpan.FromMinutes(30))
            .Signaled(RunbookTemporalWorkflow.SignalName, Decision("approve", "user:mallory"), TimeSpan.FromMinutes(5))
            .TimerCanceled(1, first);
        var second = history.NextEventId;
        history.TimerStarted(2, TimeSpan.FromMinutes(25))
            .Signaled(RunbookTemporalWorkflow.SignalName, Decision("approve", "user:bob"), TimeSpan.FromMinutes(5))
            .TimerCanceled(2, second)
            .ActivityCompleted("6:after:action:log", "action:log", null, Approved)
            .Completed(new JsonObject());
        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        // Had Mallory's decision been taken, the step would have run at once, with no second wait.
        var taken = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate));
        var only = taken.NextEventId;
        taken.TimerStarted(1, TimeSpan.FromMinutes(30))
            .Signaled(RunbookTemporalWorkflow.SignalName, Decision("approve", "user:mallory"), TimeSpan.FromMinutes(5))
            .TimerCanceled(1, only)
            .ActivityCompleted("4:after:action:log", "action:log", null, Approved)
            .Completed(new JsonObject());
        Assert.IsType<WorkflowNondeterminismException>((await ReplayHarness.ReplayAsync(taken)).ReplayFailure);
    }

    [Fact]
    public async Task A_rejected_approval_fails_the_run_without_running_the_next_step()
    {
        var history = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate));
        var timer = history.NextEventId;
        history.TimerStarted(1, TimeSpan.FromMinutes(30))
            .Signaled(RunbookTemporalWorkflow.SignalName, Decision("reject", "user:bob"), TimeSpan.FromMinutes(5))
            .TimerCanceled(1, timer)
            .Failed("Rejected", "'ok' was rejected by user:bob");
        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        var ran = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate));
        var t = ran.NextEventId;
        ran.TimerStarted(1, TimeSpan.FromMinutes(30))
            .Signaled(RunbookTemporalWorkflow.SignalName, Decision("reject", "user:bob"), TimeSpan.FromMinutes(5))
            .TimerCanceled(1, t)
            .ActivityCompleted("4:after:action:log", "action:log", null, Approved)
            .Completed(new JsonObject());
        Assert.IsType<WorkflowNondeterminismException>((await ReplayHarness.ReplayAsync(ran)).ReplayFailure);
    }

    [Fact]
    public async Task An_approval_nobody_answers_fails_the_run_when_its_deadline_fires()
    {
        var history = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate))
            .TimerFired(1, TimeSpan.FromMinutes(30))
            .Failed("ApprovalTimedOut", "no decision on 'ok' within 30m; on_timeout is reject");
        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        var approvedAnyway = ReplayHarness.History(ReplayHarness.Input(ReplayHarness.Gate.Replace("timeout: 30m", "timeout: 30m, on_timeout: approve", StringComparison.Ordinal)))
            .TimerFired(1, TimeSpan.FromMinutes(30))
            .ActivityCompleted("4:after:action:log", "action:log", null, Approved)
            .Completed(new JsonObject());
        Assert.Null((await ReplayHarness.ReplayAsync(approvedAnyway)).ReplayFailure);
    }

    [Fact]
    public async Task A_run_cancelled_while_it_waits_for_an_approval_ends_cancelled()
    {
        var input = ReplayHarness.Input(ReplayHarness.Gate.Replace(", timeout: 30m", string.Empty, StringComparison.Ordinal));
        var history = ReplayHarness.History(input)
            .CancelRequested(TimeSpan.FromMinutes(3))
            .Canceled();
        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        var ranOn = ReplayHarness.History(input)
            .CancelRequested(TimeSpan.FromMinutes(3))
            .ActivityCompleted("4:after:action:log", "action:log", null, Approved)
            .Completed(new JsonObject());
        Assert.NotNull((await ReplayHarness.ReplayAsync(ranOn)).ReplayFailure);
    }

    [Fact]
    public async Task With_compensate_on_cancel_a_cancelled_run_runs_its_compensation_on_a_detached_token_before_it_ends_cancelled()
    {
        static string Undo(string compensateOn) => $$$"""
            name: undo-on-cancel
            {{{compensateOn}}}
            steps:
              - id: one
                action: log
                with: { message: "one" }
                compensate: { action: log, with: { message: "undo one" } }
              - id: pause
                sleep: 1h
              - id: after
                action: log
                with: { message: "after" }
            """;
        HistoryBuilder Compensated(string compensateOn)
        {
            var history = ReplayHarness.History(ReplayHarness.Input(Undo(compensateOn)))
                .ActivityCompleted("1:one:action:log", "action:log", null, new JsonObject { ["message"] = "one" });
            var timer = history.NextEventId;
            return history.TimerStarted(1, TimeSpan.FromHours(1))
                .CancelRequested(TimeSpan.FromMinutes(3))
                .TimerCanceled(1, timer)
                .ActivityCompleted("4:one/compensate:action:log", "action:log", null, new JsonObject { ["message"] = "undo one" })
                .Canceled();
        }

        Assert.Null((await ReplayHarness.ReplayAsync(Compensated("compensate_on: [failure, cancel]"))).ReplayFailure);

        // Without compensate_on: cancel, the run ends cancelled at once and schedules no compensation.
        Assert.IsType<WorkflowNondeterminismException>((await ReplayHarness.ReplayAsync(Compensated(string.Empty))).ReplayFailure);
        var plain = ReplayHarness.History(ReplayHarness.Input(Undo(string.Empty)))
            .ActivityCompleted("1:one:action:log", "action:log", null, new JsonObject { ["message"] = "one" });
        var t = plain.NextEventId;
        plain.TimerStarted(1, TimeSpan.FromHours(1)).CancelRequested(TimeSpan.FromMinutes(3)).TimerCanceled(1, t).Canceled();
        Assert.Null((await ReplayHarness.ReplayAsync(plain)).ReplayFailure);
    }

    private static string Routes(string onFailure) => $$$"""
        name: routes
        steps:
          - id: soft
            action: shell
            with: { command: ["false"] }
            on_failure: {{{onFailure}}}
          - id: after
            action: log
            with: { message: "after" }
        outputs:
          soft: "${{ steps.soft.status }}"
        """;

    private static TemporalSignal Decision(string decision, string sender) =>
        new("approval:ok", new JsonObject { ["decision"] = decision, ["comment"] = "checked the dashboard" }, sender);
}

/// <summary>A C# script runbook on Temporal: compiled and run on the workflow's deterministic scheduler.</summary>
public sealed class ScriptReplayTests
{
    [Fact]
    public async Task A_script_runbook_replays_its_actions_in_order()
    {
        var input = ReplayHarness.Input(
            """
            /*---
            name: scripted
            inputs:
              pods: { type: list, required: true }
            outputs:
              done: whether every pod was probed
            ---*/
            foreach (var pod in Input<string[]>("pods"))
            {
                await Shell("probe", ["echo", pod]);
            }

            await Log("report", "probed");
            Output("done", true);
            """,
            new JsonObject { ["pods"] = new JsonArray("web-1", "web-2") },
            file: "scripted.csx");
        var probe = new JsonObject { ["exit_code"] = 0, ["stdout"] = "ok\n" };
        var history = ReplayHarness.History(input)
            .ActivityCompleted("1:probe:action:shell", "action:shell", null, probe)
            .ActivityCompleted("2:probe#2:action:shell", "action:shell", null, probe)
            .ActivityCompleted("3:report:action:log", "action:log", null, new JsonObject { ["message"] = "probed" })
            .Completed(new JsonObject { ["done"] = true });

        var logs = new LogLines();
        var result = await ReplayHarness.ReplayAsync(history, logs);
        Assert.True(result.ReplayFailure is null, result.ReplayFailure + "\n" + string.Join('\n', logs.Lines));

        // One probe fewer than the script makes is caught.
        var shorter = ReplayHarness.History(input)
            .ActivityCompleted("1:probe:action:shell", "action:shell", null, probe)
            .ActivityCompleted("3:report:action:log", "action:log", null, new JsonObject { ["message"] = "probed" })
            .Completed(new JsonObject { ["done"] = true });
        Assert.NotNull((await ReplayHarness.ReplayAsync(shorter)).ReplayFailure);
    }
}
