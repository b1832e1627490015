using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows.Storage;
using Temporalio.Exceptions;

namespace RunbookEngine.Temporal.Tests.Live;

/// <summary>
/// End to end on a live Temporal server: runbooks started, approved, refused, deduplicated and cancelled through
/// the same service the CLI and the server use, executed by a real Temporal worker. Skipped, with the reason,
/// wherever no server is reachable (this machine included).
/// </summary>
public sealed class LiveTemporalTests(LiveTemporalFixture live) : IClassFixture<LiveTemporalFixture>
{
    private const string Gate = """
        name: live-gate
        steps:
          - id: ok
            approval: { approvers: [bob], timeout: 10m }
          - id: after
            action: log
            with: { message: "approved" }
        outputs:
          after: "${{ steps.after.status }}"
        """;

    private static readonly Caller Bob = new("user:bob", []);

    [LiveTemporalFact]
    public async Task A_runbook_waits_for_its_approval_and_completes_with_the_kernels_timeline()
    {
        live.Write("live-gate", Gate);
        var run = (await live.Service.StartAsync(new StartRequest { Runbook = "live-gate" }, new Caller("user:alice", []), default)).Run.RunId;

        var refused = await live.Service.DecideAsync(run, approve: true, step: "ok", "me too", new Caller("user:mallory", []), default);
        Assert.False(refused.Accepted);
        var decided = await live.Service.DecideAsync(run, approve: true, step: "ok", "graphs are fine", Bob, default);
        Assert.True(decided.Accepted, decided.Reason);
        await live.Client.GetWorkflowHandle(run).GetResultAsync();

        var done = await live.Service.GetRunAsync(run, default);
        Assert.Equal("completed", done.Status);
        Assert.Equal("succeeded", done.Output?["after"]?.GetValue<string>());
        var timeline = await live.Service.GetTimelineAsync(run, 0, default);
        Assert.True(timeline.ChainIntact, timeline.ChainProblem);
        Assert.Contains(timeline.Events, e => e.Kind == "approval.refused" && e.Data?["by"]?.GetValue<string>() == "user:mallory");
        Assert.Contains(timeline.Events, e => e.Kind == "approval.granted" && e.Data?["by"]?.GetValue<string>() == "user:bob");
        Assert.Equal("run.completed", timeline.Events[^1].Kind);
    }

    [LiveTemporalFact]
    public async Task A_guard_decides_temporal_runs_in_the_store_and_learns_their_end_from_temporal()
    {
        live.Write("live-guarded", """
            name: live-guarded
            inputs:
              host: { type: string }
            guards: { target: "${{ inputs.host }}", max_live: 1, breaker: { failures: 1, window: 1h, open_for: 1h } }
            steps:
              - id: ok
                approval: { approvers: [bob], timeout: 10m }
              - id: fail
                action: shell
                with: { command: ["false"] }
            """);
        var host = "web-" + Guid.NewGuid().ToString("N")[..6];
        var request = new StartRequest { Runbook = "live-guarded", Inputs = new Dictionary<string, string> { ["host"] = host } };
        var first = (await live.Service.StartAsync(request, Bob, default)).Run;
        var second = (await live.Service.StartAsync(request, Bob, default)).Run;
        await live.Client.GetWorkflowHandle(second.RunId).GetResultAsync<JsonNode?>().ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.Equal("blocked", (await live.Service.GetRunAsync(second.RunId, default)).Status);

        // The first fails; the next decision reads that from Temporal, and its breaker opens.
        Assert.True((await live.Service.DecideAsync(first.RunId, approve: true, step: "ok", "go", Bob, default)).Accepted);
        await live.Client.GetWorkflowHandle(first.RunId).GetResultAsync<JsonNode?>().ContinueWith(_ => { }, TaskScheduler.Default);
        var third = (await live.Service.StartAsync(request, Bob, default)).Run;
        await live.Client.GetWorkflowHandle(third.RunId).GetResultAsync<JsonNode?>().ContinueWith(_ => { }, TaskScheduler.Default);
        var refused = await live.Service.GetTimelineAsync(third.RunId, 0, default);
        Assert.Contains(refused.Events, e => e.Kind == "guard.blocked");
        Assert.Equal("blocked", (await live.Service.GetRunAsync(third.RunId, default)).Status);
    }

    [LiveTemporalFact]
    public async Task Starting_twice_with_one_key_returns_the_first_run()
    {
        live.Write("live-gate", Gate);
        var request = new StartRequest { Runbook = "live-gate", IdempotencyKey = "alert/" + Guid.NewGuid().ToString("N") };
        var first = await live.Service.StartAsync(request, Bob, default);
        var second = await live.Service.StartAsync(request, Bob, default);

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.Run.RunId, second.Run.RunId);
        await live.Service.CancelAsync(first.Run.RunId, "test over", Bob, default);
    }

    [LiveTemporalFact]
    public async Task A_cancelled_run_ends_cancelled_with_who_and_why()
    {
        live.Write("live-gate", Gate);
        var run = (await live.Service.StartAsync(new StartRequest { Runbook = "live-gate" }, Bob, default)).Run.RunId;

        await live.Service.CancelAsync(run, "false alarm", new Caller("user:carol", []), default);
        await Assert.ThrowsAsync<WorkflowFailedException>(() => live.Client.GetWorkflowHandle(run).GetResultAsync());

        Assert.Equal("cancelled", (await live.Service.GetRunAsync(run, default)).Status);
        var timeline = await live.Service.GetTimelineAsync(run, 0, default);
        Assert.Contains(timeline.Events, e => e.Kind == "run.cancel_requested" && e.Actor == "user:carol");
    }

    [LiveTemporalFact]
    public async Task A_missing_namespace_is_one_line_naming_it()
    {
        var ns = "missing-" + Guid.NewGuid().ToString("N")[..8];
        var ex = await Assert.ThrowsAsync<TemporalEngineException>(() => TemporalConnector.ConnectAsync(live.Options with { Namespace = ns }));
        Assert.Contains($"has no namespace '{ns}'", ex.Message, StringComparison.Ordinal);
    }

    [LiveTemporalFact]
    public async Task A_failing_step_fails_the_run_with_its_error_kind()
    {
        live.Write("live-fail", """
            name: live-fail
            steps:
              - id: probe
                action: shell
                with: { command: ["false"] }
            """);
        var run = (await live.Service.StartAsync(new StartRequest { Runbook = "live-fail" }, Bob, default)).Run.RunId;
        await Assert.ThrowsAsync<WorkflowFailedException>(() => live.Client.GetWorkflowHandle(run).GetResultAsync());

        var failed = await live.Service.GetRunAsync(run, default);
        Assert.Equal(("failed", "ExitCode"), (failed.Status, failed.ErrorKind));
        var steps = (await live.Service.GetRunDetailAsync(run, default)).Steps;
        Assert.Contains(steps, s => s.Name == "probe" && s.Status == StepStatus.Failed.ToString().ToLowerInvariant());
    }

    [LiveTemporalFact]
    public async Task A_run_is_one_trace_of_its_run_span_and_its_step_spans()
    {
        var spans = new List<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == "RunbookEngine.Workflows",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                lock (spans)
                {
                    spans.Add(span);
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        live.Write("live-traced", """
            name: live-traced
            steps:
              - id: hello
                action: log
                with: { message: "hello" }
            """);
        var run = (await live.Service.StartAsync(new StartRequest { Runbook = "live-traced" }, Bob, default)).Run.RunId;
        await live.Client.GetWorkflowHandle(run).GetResultAsync();

        System.Diagnostics.Activity[] mine;
        lock (spans)
        {
            mine = [.. spans.Where(s => Equals(s.GetTagItem("runbook.run_id"), run))];
        }

        var runSpan = Assert.Single(mine, s => s.DisplayName == "run live-traced");
        var step = Assert.Single(mine, s => s.DisplayName == "step hello");
        Assert.Equal(runSpan.TraceId, step.TraceId);
        Assert.Equal("completed", runSpan.GetTagItem("runbook.run.status"));
        Assert.Contains(runSpan.Events, e => e.Name == "run.completed");
    }
}
