using System.Text.Json.Nodes;
using Temporalio.Exceptions;

namespace RunbookEngine.Temporal.Tests;

/// <summary>
/// The runbook workflow replayed by the SDK's own replayer against histories as a server records them: the same
/// commands pass, a changed runbook is caught as non-deterministic.
/// </summary>
public sealed class RunbookReplayTests
{
    private const string Greet = """
        name: greet
        steps:
          - id: hello
            action: log
            with: { message: "hello" }
        outputs:
          status: "${{ steps.hello.status }}"
        """;

    [Fact]
    public async Task A_one_step_run_replays_against_the_history_a_server_recorded()
    {
        var input = ReplayHarness.Input(Greet);
        var history = ReplayHarness.History(input)
            .ActivityCompleted("1:hello:action:log", "action:log", ReplayHarness.Call("hello", 1, ReplayHarness.ActionInput("hello", new JsonObject { ["message"] = "hello" })), new JsonObject { ["message"] = "hello" })
            .Completed(new JsonObject { ["status"] = "succeeded" });

        var result = await ReplayHarness.ReplayAsync(history);

        Assert.Null(result.ReplayFailure);
    }

    [Fact]
    public async Task A_history_whose_commands_differ_from_what_the_runbook_does_is_caught_as_non_deterministic()
    {
        // Recorded when the step was a sleep (a timer); the same position is an action (an activity) today.
        var recorded = ReplayHarness.History(ReplayHarness.Input(Greet))
            .TimerFired(1, TimeSpan.FromMinutes(5))
            .Completed(new JsonObject { ["status"] = "succeeded" });

        var logs = new LogLines();
        var result = await ReplayHarness.ReplayAsync(recorded, logs);

        Assert.True(result.ReplayFailure is WorkflowNondeterminismException, string.Join('\n', logs.Lines));
    }

    [Fact]
    public async Task A_run_replays_its_pinned_definition_whatever_the_runbook_file_says_now()
    {
        // The definition travels in the workflow's input: replay rebuilds the runbook from it, never from disk.
        var input = ReplayHarness.Input(Greet);
        var edited = ReplayHarness.Input(Greet.Replace("action: log\n    with: { message: \"hello\" }", "sleep: 5m", StringComparison.Ordinal));
        Assert.NotEqual(input.DefinitionHash, edited.DefinitionHash);
        var history = ReplayHarness.History(input)
            .ActivityCompleted("1:hello:action:log", "action:log", null, new JsonObject { ["message"] = "hello" })
            .Completed(new JsonObject { ["status"] = "succeeded" });

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);
        var editedHistory = ReplayHarness.History(edited)
            .ActivityCompleted("1:hello:action:log", "action:log", null, new JsonObject { ["message"] = "hello" })
            .Completed(new JsonObject { ["status"] = "succeeded" });
        Assert.IsType<WorkflowNondeterminismException>((await ReplayHarness.ReplayAsync(editedHistory)).ReplayFailure);
    }
}
