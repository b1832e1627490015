using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;

namespace RunbookEngine.Temporal.Tests;

/// <summary>
/// What a Temporal run tells a tracing and metrics backend when it ends: one span <c>run NAME</c> in the run's trace,
/// from the workflow's start to its end, with the timeline as span events (who granted an approval among them), and
/// <c>runbook.run.finished</c> by status, both told once by the worker whose workflow task ended the run. Each case
/// is a history whose last workflow task is still in progress, which the SDK's replayer runs as new work (as a
/// worker runs the task it just took), and the same history ended, whose replay must tell nothing again.
/// </summary>
public sealed class RunTelemetryTests : IDisposable
{
    private const string TraceId = "5bf92f3577b34da6a3ce929d0e0e4736";
    private const string ParentSpanId = "10f067aa0ba902b7";
    private readonly List<Activity> spans = [];
    private readonly List<(string Workflow, string Status)> finished = [];
    private readonly ActivityListener listener;
    private readonly MeterListener meters = new();

    public RunTelemetryTests()
    {
        listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "RunbookEngine.Workflows",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                if (span.TraceId.ToHexString() == TraceId)
                {
                    lock (spans)
                    {
                        spans.Add(span);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "RunbookEngine.Workflows" && instrument.Name == "runbook.run.finished")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var workflow = Tag(tags, "runbook.workflow");
            if (workflow.StartsWith("telemetry-", StringComparison.Ordinal))
            {
                lock (finished)
                {
                    finished.Add((workflow, Tag(tags, "status")));
                }
            }
        });
        meters.Start();
    }

    public void Dispose()
    {
        listener.Dispose();
        meters.Dispose();
    }

    [Fact]
    public async Task A_run_that_ends_is_one_span_from_its_start_with_its_timeline_and_who_approved()
    {
        var input = Traced(ReplayHarness.Input(ReplayHarness.Gate.Replace("name: gate", "name: telemetry-gate", StringComparison.Ordinal)));
        HistoryBuilder Approved()
        {
            var history = ReplayHarness.History(input);
            var timer = history.NextEventId;
            return history.TimerStarted(1, TimeSpan.FromMinutes(30))
                .Signaled(RunbookTemporalWorkflow.SignalName, new TemporalSignal("approval:ok", new JsonObject { ["decision"] = "approve", ["comment"] = "graphs look fine" }, "user:bob"), TimeSpan.FromMinutes(5))
                .TimerCanceled(1, timer)
                .ActivityCompleted("4:after:action:log", "action:log", null, new JsonObject { ["message"] = "approved" });
        }

        var ending = Approved().InProgress();
        Assert.Null((await ReplayHarness.ReplayAsync(ending)).ReplayFailure);

        var run = Assert.Single(spans, s => s.DisplayName == "run telemetry-gate");
        Assert.Equal(ParentSpanId, run.ParentSpanId.ToHexString());
        Assert.Equal(ending.FirstEventTime.UtcDateTime, run.StartTimeUtc);
        Assert.Equal(ending.LastEventTime.UtcDateTime, run.StartTimeUtc + run.Duration);
        Assert.True(run.Duration > TimeSpan.FromMinutes(5), $"the span covers the approval's wait: {run.Duration}");
        Assert.Equal(
            [("runbook.run_id", ReplayHarness.RunId), ("runbook.workflow", "telemetry-gate"), ("runbook.queue", "runbooks"), ("runbook.engine", "temporal"), ("runbook.run.status", "completed")],
            run.TagObjects.Where(t => t.Key.StartsWith("runbook.", StringComparison.Ordinal)).Select(t => (t.Key, (string)t.Value!)));
        Assert.Equal(ActivityStatusCode.Unset, run.Status);

        // The timeline, as a kernel execution's span has it: a step's start and completion are its own spans.
        var kinds = run.Events.Select(e => e.Name).ToList();
        Assert.Equal(["run.created", "approval.requested", "wait.started", "signal.received", "signal.consumed", "approval.granted", "step.scheduled", "run.completed"], kinds);
        var granted = run.Events.Single(e => e.Name == "approval.granted");
        Assert.Equal("user:bob", JsonNode.Parse((string)granted.Tags.Single(t => t.Key == "runbook.data").Value!)!["by"]!.GetValue<string>());
        Assert.Equal(ending.FirstEventTime.UtcDateTime.AddMinutes(5), granted.Timestamp.UtcDateTime, TimeSpan.FromSeconds(1));
        Assert.Equal([("telemetry-gate", "completed")], Finished("telemetry-gate"));

        // A later worker replaying the ended run (a query, a cache miss) tells nothing again.
        spans.Clear();
        Assert.Null((await ReplayHarness.ReplayAsync(Approved().Completed(new JsonObject()))).ReplayFailure);
        Assert.DoesNotContain(spans, s => s.DisplayName == "run telemetry-gate");
        Assert.Single(Finished("telemetry-gate"));
    }

    [Fact]
    public async Task A_failed_run_is_an_error_span_with_its_error_kind_and_counts_as_failed()
    {
        var input = Traced(ReplayHarness.Input("""
            name: telemetry-fails
            steps:
              - id: soft
                action: shell
                with: { command: ["false"] }
            """));
        var history = ReplayHarness.History(input).ActivityFailed("1:soft:action:shell", "action:shell", null, "CommandFailed", "exit code 1").InProgress();

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        var run = Assert.Single(spans, s => s.DisplayName == "run telemetry-fails");
        Assert.Equal(("failed", "CommandFailed"), ((string)run.GetTagItem("runbook.run.status")!, (string)run.GetTagItem("runbook.run.error_kind")!));
        Assert.Equal(ActivityStatusCode.Error, run.Status);
        Assert.Contains(run.Events, e => e.Name == "step.failed");
        Assert.Equal("run.failed", run.Events.Last().Name);
        Assert.Equal([("telemetry-fails", "failed")], Finished("telemetry-fails"));
    }

    [Fact]
    public async Task A_cancelled_run_counts_as_cancelled_and_its_span_says_who_asked()
    {
        var input = Traced(ReplayHarness.Input(ReplayHarness.Gate.Replace("name: gate", "name: telemetry-cancel", StringComparison.Ordinal).Replace(", timeout: 30m", string.Empty, StringComparison.Ordinal)));
        var history = ReplayHarness.History(input)
            .Signaled(RunbookTemporalWorkflow.SignalName, new TemporalSignal(RunbookTemporalWorkflow.CancelSignal, new JsonObject { ["reason"] = "false alarm" }, "user:carol"), TimeSpan.FromMinutes(2))
            .CancelRequested(TimeSpan.Zero)
            .InProgress();

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        var run = Assert.Single(spans, s => s.DisplayName == "run telemetry-cancel");
        Assert.Equal("cancelled", run.GetTagItem("runbook.run.status"));
        Assert.Equal(ActivityStatusCode.Unset, run.Status);
        var requested = run.Events.Single(e => e.Name == "run.cancel_requested");
        Assert.Equal("user:carol", requested.Tags.Single(t => t.Key == "runbook.actor").Value);
        Assert.Equal([("telemetry-cancel", "cancelled")], Finished("telemetry-cancel"));
    }

    [Fact]
    public async Task A_run_a_guard_blocked_is_a_span_that_says_so_and_is_not_counted_as_finished()
    {
        // As on the kernel, where a blocked run never reaches a worker: runbook.guard.decisions counts it instead.
        var input = Traced(ReplayHarness.Input(ReplayHarness.Gate.Replace("name: gate", "name: telemetry-blocked", StringComparison.Ordinal))) with
        {
            Blocked = "cooldown: the last run for this target ended 2m ago",
            GuardKind = "guard.blocked",
            GuardData = """{"key":"telemetry-blocked","reason":"cooldown"}""",
        };
        var history = ReplayHarness.History(input).InProgress();

        Assert.Null((await ReplayHarness.ReplayAsync(history)).ReplayFailure);

        var run = Assert.Single(spans, s => s.DisplayName == "run telemetry-blocked");
        Assert.Equal(("blocked", RunbookTemporalWorkflow.BlockedErrorType), ((string)run.GetTagItem("runbook.run.status")!, (string)run.GetTagItem("runbook.run.error_kind")!));
        Assert.Equal(["run.created", "guard.blocked", "run.failed"], run.Events.Select(e => e.Name));
        Assert.Empty(Finished("telemetry-blocked"));
    }

    private static TemporalRunInput Traced(TemporalRunInput input) => input with { TraceParent = $"00-{TraceId}-{ParentSpanId}-01" };

    private static string Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value as string ?? string.Empty;
            }
        }

        return string.Empty;
    }

    private List<(string Workflow, string Status)> Finished(string workflow)
    {
        lock (finished)
        {
            return finished.Where(f => f.Workflow == workflow).ToList();
        }
    }
}
