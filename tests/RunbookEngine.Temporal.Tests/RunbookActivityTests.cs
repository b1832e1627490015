using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using Temporalio.Activities;
using Temporalio.Exceptions;
using Temporalio.Testing;

namespace RunbookEngine.Temporal.Tests;

/// <summary>
/// The activities a Temporal worker serves, run by the SDK's <see cref="ActivityEnvironment"/>: real actions (log,
/// shell) with their outputs, failures as application failures typed by error kind, heartbeats while they run,
/// cancellation that stops the process, and secrets kept out of what goes back to the server.
/// </summary>
public sealed class RunbookActivityTests
{
    /// <summary>How long a test waits for something that should happen at once before it fails instead of hanging.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly ManualTimeProvider time = new();
    private readonly IReadOnlyList<ActivityDefinition> definitions;

    public RunbookActivityTests()
    {
        var registry = new ActivityRegistry().AddRunbookActions(ReplayHarness.Actions, NullLogger.Instance);
        definitions = RunbookTemporalActivities.Create(registry, NullLogger.Instance, time);
    }

    [Fact]
    public void Every_action_and_plan_of_the_catalog_and_the_script_step_activity_are_served()
    {
        var names = definitions.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);

        foreach (var action in ReplayHarness.Actions.All.Select(a => a.Name))
        {
            Assert.Contains(RunbookActivities.ActivityName(action), names);
            Assert.Contains(RunbookActivities.PlanActivityName(action), names);
        }

        Assert.Contains(InlineSteps.ActivityName, names);
    }

    [Fact]
    public async Task An_action_returns_its_outputs()
    {
        var result = await new ActivityEnvironment().RunAsync(() => InvokeAsync("action:shell", "check", new JsonObject { ["command"] = new JsonArray("echo", "disk ok") }));

        Assert.Equal(0, result?["exit_code"]?.GetValue<int>());
        Assert.Equal("disk ok", result?["stdout"]?.GetValue<string>().Trim());
    }

    [Fact]
    public async Task A_failing_action_is_an_application_failure_typed_by_its_error_kind()
    {
        var retryable = await Assert.ThrowsAsync<ApplicationFailureException>(() => new ActivityEnvironment().RunAsync(() => InvokeAsync("action:shell", "check", new JsonObject { ["command"] = new JsonArray("false") })));
        Assert.Equal("ExitCode", retryable.ErrorType);
        Assert.False(retryable.NonRetryable);

        var permanent = await Assert.ThrowsAsync<ApplicationFailureException>(() => new ActivityEnvironment().RunAsync(() => InvokeAsync("action:shell", "check", new JsonObject { ["command"] = new JsonArray() })));
        Assert.Equal("InvalidInput", permanent.ErrorType);
        Assert.True(permanent.NonRetryable, "an input error is not retried by the server");
    }

    [Fact]
    public async Task A_running_action_heartbeats_and_a_cancelled_one_stops_its_process()
    {
        var beat = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var env = new ActivityEnvironment { Heartbeater = _ => beat.TrySetResult() };
        var marker = Path.Combine(Path.GetTempPath(), "rb-temporal-" + Guid.NewGuid().ToString("N"));
        var firstTick = time.WaitForTimerAsync(RunbookTemporalActivities.HeartbeatInterval);

        // The process would write the marker after 30 s if it were left running.
        var running = env.RunAsync(() => InvokeAsync("action:shell", "drain", new JsonObject { ["command"] = new JsonArray("bash", "-c", $"sleep 30; touch '{marker}'") }));
        await firstTick.WaitAsync(Bound);
        time.Advance(RunbookTemporalActivities.HeartbeatInterval);
        await beat.Task.WaitAsync(Bound);

        env.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task Progress_is_the_heartbeat_details_and_a_retried_attempt_is_handed_the_last_one()
    {
        var handed = new List<string?>();
        var registry = new ActivityRegistry().Add("follow", async sc =>
        {
            handed.Add(sc.Progress?.ToJsonString());
            await sc.SaveProgressAsync(new JsonObject { ["operation"] = $"op-{sc.Attempt}" });
            return JsonValue.Create(sc.Attempt);
        });
        var follow = RunbookTemporalActivities.Create(registry, NullLogger.Instance, time).Single(d => d.Name == "follow");
        var beats = new List<object?>();
        var first = new ActivityEnvironment { Heartbeater = details => beats.AddRange(details) };

        await first.RunAsync(() => follow.InvokeAsync([new ActivityCall("follow", 1, null)]));
        Assert.Equal(["""{"operation":"op-1"}"""], beats);

        // What the server hands the next attempt: the details of the last heartbeat it received.
        var payload = Temporalio.Converters.DataConverter.Default.PayloadConverter.ToPayload(beats[^1]);
        var second = new ActivityEnvironment { Info = ActivityEnvironment.DefaultInfo with { Attempt = 2, HeartbeatDetails = [payload] } };
        var result = (JsonNode?)await second.RunAsync(() => follow.InvokeAsync([new ActivityCall("follow", 1, null)]));

        Assert.Equal(2, result!.GetValue<int>());
        Assert.Equal(new string?[] { null, """{"operation":"op-1"}""" }, handed);
    }

    [Fact]
    public async Task Each_attempt_is_a_span_in_the_runs_trace_with_the_kernels_tags_and_outcome()
    {
        var spans = new List<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == "RunbookEngine.Workflows",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                // Only this test's trace: tests beside it stop spans of their own on other threads.
                if (span.TraceId.ToHexString() == "4bf92f3577b34da6a3ce929d0e0e4736")
                {
                    lock (spans)
                    {
                        spans.Add(span);
                    }
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);

        // The kernel's step metrics too, told while the attempt's span is current (so only this test's are counted).
        var measured = new List<(string Instrument, string Outcome)>();
        using var meters = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "RunbookEngine.Workflows" && instrument.Name is "runbook.step.attempts" or "runbook.step.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Measured(System.Diagnostics.Metrics.Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (System.Diagnostics.Activity.Current?.TraceId.ToHexString() == "4bf92f3577b34da6a3ce929d0e0e4736")
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "outcome")
                    {
                        measured.Add((instrument.Name, (string)tag.Value!));
                    }
                }
            }
        }

        meters.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Measured(instrument, tags));
        meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            Assert.True(value >= 0, $"a duration is never negative: {value}");
            Measured(instrument, tags);
        });
        meters.Start();
        const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var shell = definitions.Single(d => d.Name == "action:shell");
        Task<object?> Call(int attempt, JsonArray command) => new ActivityEnvironment { Info = ActivityEnvironment.DefaultInfo with { Attempt = attempt, ActivityType = "action:shell" } }
            .RunAsync(() => shell.InvokeAsync([new ActivityCall("check", 3, new JsonObject { ["step"] = "check", ["with"] = new JsonObject { ["command"] = command } }, TraceParent)]));

        await Assert.ThrowsAsync<ApplicationFailureException>(() => Call(1, new JsonArray("false")));
        await Call(2, new JsonArray("true"));

        List<System.Diagnostics.Activity> attempts;
        lock (spans)
        {
            attempts = spans.Where(s => s.DisplayName == "step check").ToList();
        }
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, s => Assert.Equal(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), (s.TraceId.ToHexString(), s.ParentSpanId.ToHexString())));
        Assert.Equal([1, 2], attempts.Select(s => (int)s.GetTagItem("runbook.step.attempt")!));
        Assert.Equal(["failed", "completed"], attempts.Select(s => (string)s.GetTagItem("runbook.step.outcome")!));
        Assert.Equal(("ExitCode", System.Diagnostics.ActivityStatusCode.Error), ((string)attempts[0].GetTagItem("runbook.step.error_kind")!, attempts[0].Status));
        Assert.Equal("action:shell", attempts[1].GetTagItem("runbook.activity"));
        Assert.Equal(
            [("runbook.step.duration", "failed"), ("runbook.step.attempts", "failed"), ("runbook.step.duration", "completed"), ("runbook.step.attempts", "completed")],
            measured);
    }

    [Fact]
    public async Task A_secret_never_goes_back_to_the_server_in_an_output_or_a_failure()
    {
        const string Value = "s3cr3t-temporal-token";
        var variable = "RB_TEMPORAL_SECRET_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, Value);
        try
        {
            var env = new JsonObject { ["TOKEN"] = $"secret://env/{variable}" };
            var output = await new ActivityEnvironment().RunAsync(() => InvokeAsync("action:shell", "auth", new JsonObject { ["command"] = new JsonArray("bash", "-c", "echo \"token=$TOKEN\""), ["env"] = env.DeepClone() }));
            Assert.DoesNotContain(Value, output!.ToJsonString(), StringComparison.Ordinal);
            Assert.Contains(Secrets.Mask, output.ToJsonString(), StringComparison.Ordinal);

            var failure = await Assert.ThrowsAsync<ApplicationFailureException>(() => new ActivityEnvironment().RunAsync(() => InvokeAsync("action:shell", "auth", new JsonObject { ["command"] = new JsonArray("bash", "-c", "echo \"token=$TOKEN\" >&2; exit 3"), ["env"] = env.DeepClone() })));
            Assert.DoesNotContain(Value, failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(Value, failure.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task A_live_drills_answer_activity_answers_by_call_and_refuses_a_step_it_does_not_answer_without_running_anything()
    {
        var answers = JsonNode.Parse("""[{ "fail": "Transient", "message": "busy", "times": 1 }, { "respond": { "exit_code": 0, "stdout": "scripted" } }]""")!.AsArray();
        async Task<JsonNode?> Call(JsonArray? given, int before)
        {
            var definition = definitions.Single(d => d.Name == RunbookActivities.DrillAnswerActivityName);
            var input = new JsonObject { ["step"] = "clean", ["with"] = new JsonObject { ["command"] = new JsonArray("touch", "/nonexistent/never") }, ["action"] = "shell", ["answers"] = given?.DeepClone(), ["calls_before"] = before };
            return (JsonNode?)await definition.InvokeAsync([new ActivityCall("clean", 1, input)]);
        }

        var first = await Assert.ThrowsAsync<ApplicationFailureException>(() => new ActivityEnvironment().RunAsync(() => Call(answers, 0)));
        Assert.Equal(("Transient", false), (first.ErrorType, first.NonRetryable));
        var second = await new ActivityEnvironment().RunAsync(() => Call(answers, 1));
        Assert.Equal("scripted", second?["stdout"]?.GetValue<string>());
        Assert.Equal("scripted", (await new ActivityEnvironment().RunAsync(() => Call(answers, 7)))?["stdout"]?.GetValue<string>()); // the last serves every later call

        var unanswered = await Assert.ThrowsAsync<ApplicationFailureException>(() => new ActivityEnvironment().RunAsync(() => Call(null, 0)));
        Assert.Equal(("DrillUnanswered", true), (unanswered.ErrorType, unanswered.NonRetryable));
        Assert.Contains("add it to live.steps, or add steps.clean or actions.shell", unanswered.Message, StringComparison.Ordinal);
    }

    private async Task<JsonNode?> InvokeAsync(string activity, string step, JsonObject with)
    {
        var definition = definitions.Single(d => d.Name == activity);
        return (JsonNode?)await definition.InvokeAsync([new ActivityCall(step, 1, new JsonObject { ["step"] = step, ["with"] = with })]);
    }
}
