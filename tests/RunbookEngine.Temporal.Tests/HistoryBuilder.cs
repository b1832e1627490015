using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Temporalio.Common;

namespace RunbookEngine.Temporal.Tests;

/// <summary>
/// Writes the history a Temporal server would keep for a workflow, event by event, in the server's JSON form:
/// workflow started, workflow tasks (scheduled, started, completed), activities (scheduled, started, completed or
/// failed), timers, signals, and the workflow's completion or failure. Replaying it through the SDK's
/// <c>WorkflowReplayer</c> runs today's workflow code against it without a server.
/// </summary>
/// <remarks>
/// Payloads use the SDK's default converter (<c>json/plain</c>, System.Text.Json with its default options), as the
/// histories in the SDK's own tests do.
/// </remarks>
public sealed class HistoryBuilder
{
    private readonly JsonArray events = [];
    private readonly string taskQueue;
    private DateTimeOffset time = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private long lastWorkflowTaskCompleted;

    public HistoryBuilder(string workflowType, object input, string taskQueue = "runbooks")
    {
        this.taskQueue = taskQueue;
        Add("WorkflowExecutionStarted", "workflowExecutionStartedEventAttributes", new JsonObject
        {
            ["workflowType"] = new JsonObject { ["name"] = workflowType },
            ["taskQueue"] = Queue(taskQueue),
            ["input"] = Payloads(input),
            ["workflowTaskTimeout"] = "10s",
            ["originalExecutionRunId"] = RunId,
            ["firstExecutionRunId"] = RunId,
            ["attempt"] = 1,
            ["firstWorkflowTaskBackoff"] = "0s",
            ["identity"] = "history-builder",
        });
        WorkflowTask();
    }

    /// <summary>Gets the run id of the workflow execution.</summary>
    public static string RunId => "0b0c0d0e-0000-4000-8000-000000000001";

    /// <summary>Gets the id the next event gets.</summary>
    public long NextEventId => events.Count + 1;

    /// <summary>A workflow task: scheduled, started and completed. The commands it produced follow it.</summary>
    public HistoryBuilder WorkflowTask()
    {
        var scheduled = Add("WorkflowTaskScheduled", "workflowTaskScheduledEventAttributes", new JsonObject { ["taskQueue"] = Queue(taskQueue), ["startToCloseTimeout"] = "10s", ["attempt"] = 1 });
        var started = Add("WorkflowTaskStarted", "workflowTaskStartedEventAttributes", new JsonObject { ["scheduledEventId"] = Id(scheduled), ["identity"] = "history-builder", ["requestId"] = Guid.NewGuid().ToString() });
        lastWorkflowTaskCompleted = Add("WorkflowTaskCompleted", "workflowTaskCompletedEventAttributes", new JsonObject { ["scheduledEventId"] = Id(scheduled), ["startedEventId"] = Id(started), ["identity"] = "history-builder" });
        return this;
    }

    /// <summary>
    /// Leaves the last workflow task started but not completed, as a worker finds it when it takes that task: the
    /// replayer then runs it as new work (<c>Workflow.Unsafe.IsReplaying</c> is false), not as a replay.
    /// </summary>
    public HistoryBuilder InProgress()
    {
        if (events[^1]!["eventType"]!.GetValue<string>() != "WorkflowTaskCompleted")
        {
            throw new InvalidOperationException("the history does not end with a completed workflow task");
        }

        events.RemoveAt(events.Count - 1);
        return this;
    }

    /// <summary>Gets the time of the last event (the start of an in-progress workflow task: the workflow's time in it).</summary>
    public DateTimeOffset LastEventTime => DateTimeOffset.Parse(events[^1]!["eventTime"]!.GetValue<string>(), CultureInfo.InvariantCulture);

    /// <summary>Gets the time of the first event (the workflow's start).</summary>
    public DateTimeOffset FirstEventTime => DateTimeOffset.Parse(events[0]!["eventTime"]!.GetValue<string>(), CultureInfo.InvariantCulture);

    /// <summary>An activity the last workflow task scheduled, which completed with <paramref name="result"/>.</summary>
    public HistoryBuilder ActivityCompleted(string activityId, string activityType, object? input, object? result, string? queue = null, int attempt = 1)
    {
        var (scheduled, started) = ActivityStarted(activityId, activityType, input, queue, attempt);
        Add("ActivityTaskCompleted", "activityTaskCompletedEventAttributes", new JsonObject { ["result"] = Payloads(result), ["scheduledEventId"] = Id(scheduled), ["startedEventId"] = Id(started), ["identity"] = "history-builder" });
        return WorkflowTask();
    }

    /// <summary>An activity the last workflow task scheduled, which failed for good with an application failure of <paramref name="errorType"/>.</summary>
    public HistoryBuilder ActivityFailed(string activityId, string activityType, object? input, string errorType, string message, string? queue = null, int attempt = 1)
    {
        var (scheduled, started) = ActivityStarted(activityId, activityType, input, queue, attempt);
        Add("ActivityTaskFailed", "activityTaskFailedEventAttributes", new JsonObject
        {
            ["failure"] = new JsonObject
            {
                ["message"] = message,
                ["source"] = "DotNetSDK",
                ["applicationFailureInfo"] = new JsonObject { ["type"] = errorType, ["nonRetryable"] = true },
            },
            ["scheduledEventId"] = Id(scheduled),
            ["startedEventId"] = Id(started),
            ["identity"] = "history-builder",
            ["retryState"] = "NonRetryableFailure",
        });
        return WorkflowTask();
    }

    /// <summary>An activity the last workflow task scheduled, whose attempts ran out of time (<paramref name="timeoutType"/>: StartToClose, ScheduleToClose).</summary>
    public HistoryBuilder ActivityTimedOut(string activityId, string activityType, object? input, string timeoutType = "StartToClose", int attempt = 1)
    {
        var (scheduled, started) = ActivityStarted(activityId, activityType, input, null, attempt);
        Add("ActivityTaskTimedOut", "activityTaskTimedOutEventAttributes", new JsonObject
        {
            ["failure"] = new JsonObject
            {
                ["message"] = "activity " + timeoutType + " timeout",
                ["source"] = "Server",
                ["timeoutFailureInfo"] = new JsonObject { ["timeoutType"] = "TIMEOUT_TYPE_" + Snake(timeoutType) },
            },
            ["scheduledEventId"] = Id(scheduled),
            ["startedEventId"] = Id(started),
            ["retryState"] = "MaximumAttemptsReached",
        });
        return WorkflowTask();
    }

    /// <summary>A client asked to cancel the workflow, followed by the workflow task that saw it.</summary>
    public HistoryBuilder CancelRequested(TimeSpan after, string identity = "user:carol")
    {
        time += after;
        Add("WorkflowExecutionCancelRequested", "workflowExecutionCancelRequestedEventAttributes", new JsonObject { ["cause"] = "runbook cancel", ["identity"] = identity });
        return WorkflowTask();
    }

    /// <summary>The workflow ended cancelled in the last workflow task.</summary>
    public HistoryBuilder Canceled()
    {
        Add("WorkflowExecutionCanceled", "workflowExecutionCanceledEventAttributes", new JsonObject { ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted) });
        return this;
    }

    /// <summary>A timer the last workflow task started, which fired.</summary>
    public HistoryBuilder TimerFired(int timerId, TimeSpan duration)
    {
        var started = Add("TimerStarted", "timerStartedEventAttributes", new JsonObject { ["timerId"] = timerId.ToString(CultureInfo.InvariantCulture), ["startToFireTimeout"] = Duration(duration), ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted) });
        time += duration;
        Add("TimerFired", "timerFiredEventAttributes", new JsonObject { ["timerId"] = timerId.ToString(CultureInfo.InvariantCulture), ["startedEventId"] = Id(started) });
        return WorkflowTask();
    }

    /// <summary>A timer the last workflow task started (still pending: a signal may arrive first).</summary>
    public HistoryBuilder TimerStarted(int timerId, TimeSpan duration)
    {
        Add("TimerStarted", "timerStartedEventAttributes", new JsonObject { ["timerId"] = timerId.ToString(CultureInfo.InvariantCulture), ["startToFireTimeout"] = Duration(duration), ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted) });
        return this;
    }

    /// <summary>A timer the workflow cancelled in the last workflow task (a wait that a signal ended first).</summary>
    public HistoryBuilder TimerCanceled(int timerId, long startedEventId)
    {
        Add("TimerCanceled", "timerCanceledEventAttributes", new JsonObject { ["timerId"] = timerId.ToString(CultureInfo.InvariantCulture), ["startedEventId"] = Id(startedEventId), ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted), ["identity"] = "history-builder" });
        return this;
    }

    /// <summary>A signal received, followed by the workflow task it caused.</summary>
    public HistoryBuilder Signaled(string signalName, object? input, TimeSpan after)
    {
        time += after;
        Add("WorkflowExecutionSignaled", "workflowExecutionSignaledEventAttributes", new JsonObject { ["signalName"] = signalName, ["input"] = Payloads(input), ["identity"] = "history-builder" });
        return WorkflowTask();
    }

    /// <summary>The workflow completed with <paramref name="result"/> in the last workflow task.</summary>
    public HistoryBuilder Completed(object? result)
    {
        Add("WorkflowExecutionCompleted", "workflowExecutionCompletedEventAttributes", new JsonObject { ["result"] = Payloads(result), ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted) });
        return this;
    }

    /// <summary>The workflow failed with an application failure of <paramref name="errorType"/> in the last workflow task.</summary>
    public HistoryBuilder Failed(string errorType, string message)
    {
        Add("WorkflowExecutionFailed", "workflowExecutionFailedEventAttributes", new JsonObject
        {
            ["failure"] = new JsonObject { ["message"] = message, ["source"] = "DotNetSDK", ["applicationFailureInfo"] = new JsonObject { ["type"] = errorType, ["nonRetryable"] = true } },
            ["retryState"] = "NonRetryableFailure",
            ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted),
        });
        return this;
    }

    /// <summary>The history in the server's JSON form.</summary>
    public string ToJson() => new JsonObject { ["events"] = events.DeepClone() }.ToJsonString();

    /// <summary>The history as the SDK reads it.</summary>
    public WorkflowHistory Build(string workflowId) => WorkflowHistory.FromJson(workflowId, ToJson());

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    private static string Duration(TimeSpan d) => d.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s";

    private static string Snake(string pascal) => string.Concat(pascal.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString())).ToUpperInvariant();

    private static JsonObject Queue(string name) => new() { ["name"] = name, ["kind"] = "Normal" };

    private static JsonObject Payloads(object? value) => new()
    {
        ["payloads"] = new JsonArray(new JsonObject
        {
            ["metadata"] = new JsonObject { ["encoding"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("json/plain")) },
            ["data"] = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(value)),
        }),
    };

    private (long Scheduled, long Started) ActivityStarted(string activityId, string activityType, object? input, string? queue, int attempt)
    {
        var scheduled = Add("ActivityTaskScheduled", "activityTaskScheduledEventAttributes", new JsonObject
        {
            ["activityId"] = activityId,
            ["activityType"] = new JsonObject { ["name"] = activityType },
            ["taskQueue"] = Queue(queue ?? taskQueue),
            ["input"] = Payloads(input),
            ["startToCloseTimeout"] = "3600s",
            ["workflowTaskCompletedEventId"] = Id(lastWorkflowTaskCompleted),
        });
        var started = Add("ActivityTaskStarted", "activityTaskStartedEventAttributes", new JsonObject { ["scheduledEventId"] = Id(scheduled), ["identity"] = "history-builder", ["requestId"] = Guid.NewGuid().ToString(), ["attempt"] = attempt });
        return (scheduled, started);
    }

    private long Add(string type, string attributesName, JsonObject attributes)
    {
        time += TimeSpan.FromMilliseconds(10);
        var id = events.Count + 1;
        events.Add(new JsonObject
        {
            ["eventId"] = Id(id),
            ["eventTime"] = time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["eventType"] = type,
            ["taskId"] = Id(1_000_000 + id),
            [attributesName] = attributes,
        });
        return id;
    }
}
