using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>The spans (OpenTelemetry's in-memory exporter) and measurements (a MeterListener) of real runs through the kernel on SQLite.</summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private readonly List<Activity> spans = [];
    private RunbookTestHost host = null!;
    private TracerProvider tracer = null!;

    public async Task InitializeAsync()
    {
        host = await RunbookTestHost.CreateAsync();
        tracer = Sdk.CreateTracerProviderBuilder().AddSource("RunbookEngine.Workflows", "System.Net.Http").AddInMemoryExporter(spans).Build()!;
    }

    /// <summary>
    /// The spans exported so far, copied: tests running beside this one export theirs into the same list from their
    /// own threads (the source is global), so enumerating the list itself can throw "Collection was modified".
    /// </summary>
    private Activity[] Flushed()
    {
        tracer.ForceFlush();
        return spans.ToArray();
    }

    public async Task DisposeAsync()
    {
        tracer.Dispose();
        await host.DisposeAsync();
    }

    [Fact]
    public async Task A_run_with_a_retry_and_an_approval_resumed_by_another_worker_is_one_trace_with_a_span_per_attempt()
    {
        var mark = Path.Combine(host.Directory, "tried-once");
        var run = await host.StartAsync($$"""
            name: traced
            steps:
              - id: flaky
                action: shell
                retry: { max_attempts: 2, initial_interval: 1s }
                with: { command: [bash, -c, "if [ -f {{mark}} ]; then echo ok; else touch {{mark}}; exit 1; fi"] }
              - id: approve
                approval: { approvers: [bob] }
              - id: after
                action: log
                with: { message: done }
            """);
        await host.DrainAsync(); // attempt 1 fails; the retry waits for its timer
        host.Time.Advance(TimeSpan.FromSeconds(2));
        await host.DrainAsync(); // attempt 2 passes; the approval waits
        host.Time.Advance(TimeSpan.FromSeconds(90));
        await host.DecideAsync(run, "approve", "bob", "approve");
        await host.Worker("w2").RunUntilIdleAsync(CancellationToken.None); // another worker takes it up
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        var seen = Flushed();

        var stored = (await host.RunAsync(run)).TraceParent!;
        Assert.True(ActivityContext.TryParse(stored, null, out var parent), stored);
        var trace = seen.Where(s => s.TraceId == parent.TraceId).ToList();
        Assert.DoesNotContain(seen, s => s.GetTagItem("runbook.run_id") as string == run && s.TraceId != parent.TraceId);

        // The start span is the root (nothing was current when the run was started), and the recorded parent.
        var root = Assert.Single(trace, s => s.DisplayName == "start traced");
        Assert.Equal(parent.SpanId, root.SpanId);
        Assert.Equal(ActivityKind.Producer, root.Kind);

        // One span per execution, each a child of the root, the last by the other worker.
        var executions = trace.Where(s => s.DisplayName == "run traced").OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(["w1", "w1", "w2"], executions.Select(s => s.GetTagItem("runbook.worker") as string));
        Assert.All(executions, s => Assert.Equal(root.SpanId, s.ParentSpanId));
        Assert.Equal("completed", executions[^1].GetTagItem("runbook.run.status"));

        // A span per attempt: the failed one marked as an error, both children of an execution.
        var attempts = trace.Where(s => s.DisplayName == "step flaky").OrderBy(s => (int)s.GetTagItem("runbook.step.attempt")!).ToList();
        Assert.Equal([1, 2], attempts.Select(s => (int)s.GetTagItem("runbook.step.attempt")!));
        Assert.Equal(ActivityStatusCode.Error, attempts[0].Status);
        Assert.Equal("ExitCode", attempts[0].GetTagItem("runbook.step.error_kind"));
        Assert.Equal(ActivityStatusCode.Unset, attempts[1].Status);
        Assert.All(attempts, a => Assert.Contains(executions, e => e.SpanId == a.ParentSpanId));

        // The timeline's decisions as events on the executions: the retry, the request and who granted it.
        var events = executions.SelectMany(e => e.Events).ToList();
        string Data(ActivityEvent e) => e.Tags.Single(t => t.Key == "runbook.data").Value as string ?? string.Empty;
        Assert.Contains(events, e => e.Name == "step.failed" && Data(e).Contains("\"retry_at\"", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Name == "approval.requested");
        Assert.Contains(events, e => e.Name == "approval.granted" && Data(e).Contains("\"by\":\"bob\"", StringComparison.Ordinal) && e.Tags.Any(t => t.Key == "runbook.actor"));
    }

    [Fact]
    public async Task An_http_step_sends_the_runs_trace_to_the_target_in_a_W3C_traceparent()
    {
        await using var target = new LocalHttpServer((_, _) => (200, "{}", "application/json"));
        var run = await host.StartAsync($$"""
            name: calls-out
            steps:
              - id: call
                action: http
                with: { url: "{{target.Url}}/restart", method: POST }
            """);
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        var seen = Flushed();

        var traceId = ActivityContext.Parse((await host.RunAsync(run)).TraceParent!, null).TraceId;
        var sent = Assert.Single(target.Requests).Headers["traceparent"];
        var received = ActivityContext.Parse(sent, null);
        Assert.Equal(traceId, received.TraceId);

        // The target's parent is the step's attempt (or the HTTP client's span under it): inside the run's trace.
        var attempt = Assert.Single(seen, s => s.DisplayName == "step call" && s.TraceId == traceId);
        Assert.Contains(seen, s => s.TraceId == traceId && s.SpanId == received.SpanId);
        Assert.True(received.SpanId == attempt.SpanId || seen.Any(s => s.SpanId == received.SpanId && s.ParentSpanId == attempt.SpanId));
    }

    [Fact]
    public async Task An_approvals_wait_is_measured_once_from_request_to_decision_and_not_again_on_replay()
    {
        using var listener = Listen("runbook.approval.wait", "outcome", out var waits);

        var run = await host.StartAsync("""
            name: measured
            steps:
              - id: gate
                approval: { approvers: [bob] }
              - id: pause
                sleep: 10s
              - id: after
                action: log
                with: { message: done }
            """);
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromSeconds(417));
        await host.DecideAsync(run, "gate", "bob", "approve");
        await host.DrainAsync(); // granted, then the sleep suspends the run
        host.Time.Advance(TimeSpan.FromSeconds(11));
        await host.DrainAsync(); // replays the grant, then finishes
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);

        Assert.Single(waits, w => w is { Value: 417, Tag: "approved" });
    }

    [Fact]
    public async Task A_run_an_alert_started_measures_the_time_from_the_alert_to_its_first_step_and_to_its_verified_recovery_once()
    {
        using var toFirst = Listen("runbook.alert.to_first_step", "runbook.workflow", out var firsts);
        using var toRecovery = Listen("runbook.alert.time_to_recovery", "runbook.workflow", out var recoveries);
        var runbook = host.Parse("""
            name: recovers
            steps:
              - id: fix
                action: log
                with: { message: fixed }
                verify:
                  action: log
                  with: { message: healthy }
                  condition: "${{ result.message == 'healthy' }}"
                  interval: 30s
                  timeout: 5m
              - id: pause
                sleep: 1m
              - id: after
                action: log
                with: { message: done }
            """);
        var fired = host.Time.GetUtcNow() - TimeSpan.FromSeconds(120);
        var alert = new System.Text.Json.Nodes.JsonObject { ["source"] = "alertmanager", ["fired_at"] = fired.ToString("O", System.Globalization.CultureInfo.InvariantCulture) };
        var started = await host.Client.StartAsync(RunbookDefinitions.ToDefinition(runbook), new StartRunOptions { Input = new RunbookRunInput([], Alert: alert).ToJson(), Actor = "alert:alertmanager" });

        await host.DrainAsync(); // the first step, its verify passes, then the sleep suspends the run
        host.Time.Advance(TimeSpan.FromMinutes(2));
        await host.DrainAsync(); // replays both, then finishes
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(started.Run.RunId)).Status);

        Assert.Single(firsts, m => m is { Value: 120, Tag: "recovers" });
        Assert.Single(recoveries, m => m is { Value: 120, Tag: "recovers" }); // no time passed on the manual clock before the verify
    }

    [Fact]
    public async Task A_drill_run_is_not_an_incident_it_adds_nothing_to_the_time_from_alert_to_first_step_or_recovery()
    {
        using var toFirst = Listen("runbook.alert.to_first_step", "runbook.workflow", out var firsts);
        using var toRecovery = Listen("runbook.alert.time_to_recovery", "runbook.workflow", out var recoveries);
        var runbook = host.Parse("""
            name: drilled
            steps:
              - id: fix
                action: log
                with: { message: fixed }
                verify:
                  action: log
                  with: { message: healthy }
                  condition: "${{ result.message == 'healthy' }}"
                  timeout: 5m
            """);
        var alert = new System.Text.Json.Nodes.JsonObject { ["source"] = "alertmanager", ["fired_at"] = host.Time.GetUtcNow().AddMinutes(-2).ToString("O", System.Globalization.CultureInfo.InvariantCulture) };
        var input = new RunbookRunInput([], Alert: alert, Drill: "gameday").ToJson();
        Assert.Equal("gameday", RunbookRunInput.FromJson(input).Drill);
        Assert.Null(new RunbookRunInput([]).ToJson()["drill"]); // a real run's input is as it always was
        var started = await host.Client.StartAsync(RunbookDefinitions.ToDefinition(runbook), new StartRunOptions { Input = input, Actor = "alert:alertmanager" });

        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(started.Run.RunId)).Status);

        Assert.DoesNotContain(firsts, m => m.Tag == "drilled");
        Assert.DoesNotContain(recoveries, m => m.Tag == "drilled");
    }

    /// <summary>Collects every measurement of one instrument of the engine, with the value of one of its tags.</summary>
    private static MeterListener Listen(string instrumentName, string tagName, out System.Collections.Concurrent.ConcurrentQueue<(double Value, string? Tag)> measurements)
    {
        var collected = new System.Collections.Concurrent.ConcurrentQueue<(double Value, string? Tag)>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name.StartsWith("RunbookEngine.", StringComparison.Ordinal) && instrument.Name == instrumentName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == tagName)
                {
                    collected.Enqueue((value, tag.Value as string));
                }
            }
        });
        listener.Start();
        measurements = collected;
        return listener;
    }
}
