using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using Temporalio.Worker;

namespace RunbookEngine.Temporal.Tests;

/// <summary>Runbooks as the Temporal workflow's input, and a replayer with today's interpreter.</summary>
internal static class ReplayHarness
{
    /// <summary>An approval by bob with a 30 minute deadline, then a log step: the approval scenarios' runbook.</summary>
    public const string Gate = """
        name: gate
        steps:
          - id: ok
            approval: { approvers: [bob], timeout: 30m }
          - id: after
            action: log
            with: { message: "approved" }
        """;

    public static ActionCatalog Actions { get; } = ActionCatalog.CreateDefault();

    public static TemporalRunInput Input(string yaml, JsonObject? inputs = null, bool dryRun = false, string startedBy = "user:alice", string file = "test.yaml")
    {
        var (runbook, problems) = RunbookLibrary.Parse(Actions, file, yaml);
        Assert.True(runbook is not null, string.Join('\n', problems));
        var (bound, bindProblems) = InputBinder.Bind(runbook!, inputs ?? []);
        Assert.True(bindProblems.Count == 0, string.Join('\n', bindProblems));
        var definition = RunbookDefinitions.ToDefinition(runbook!);
        return new TemporalRunInput(definition.Name, definition.Content, definition.Hash, new RunbookRunInput(bound, dryRun).ToJson(), startedBy);
    }

    public static HistoryBuilder History(TemporalRunInput input) => new(RunbookTemporalWorkflow.TypeName, input);

    /// <summary>Replays a history through the SDK's replayer with today's interpreter; the result says whether it failed and why.</summary>
    public static async Task<WorkflowReplayResult> ReplayAsync(HistoryBuilder history, LogLines? logs = null)
    {
        var replayer = new WorkflowReplayer(new WorkflowReplayerOptions { TaskQueue = "runbooks", LoggerFactory = logs ?? new LogLines() }.AddWorkflow(RunbookTemporalWorkflow.Definition(new RunbookResolver(Actions))));
        return await replayer.ReplayWorkflowAsync(history.Build(RunId), throwOnReplayFailure: false);
    }

    /// <summary>Replays a history and returns the journal the workflow holds at its end (what the <c>journal</c> query answers).</summary>
    public static async Task<RunJournalSnapshot> JournalAfterAsync(HistoryBuilder history)
    {
        RunbookTemporalWorkflow? instance = null;
        var resolver = new RunbookResolver(Actions);
        var definition = Temporalio.Workflows.WorkflowDefinition.Create(typeof(RunbookTemporalWorkflow), RunbookTemporalWorkflow.TypeName, _ => instance = new RunbookTemporalWorkflow(resolver));
        var replayer = new WorkflowReplayer(new WorkflowReplayerOptions { TaskQueue = "runbooks", LoggerFactory = new LogLines() }.AddWorkflow(definition));
        var result = await replayer.ReplayWorkflowAsync(history.Build(RunId), throwOnReplayFailure: false);
        Assert.Null(result.ReplayFailure);
        Assert.NotNull(instance);
        return instance.Journal;
    }

    public const string RunId = "run_test";

    public static ActivityCall Call(string step, int sequence, JsonNode? input) => new(step, sequence, input);

    public static JsonObject ActionInput(string step, JsonObject with) => new() { ["step"] = step, ["with"] = with };
}
