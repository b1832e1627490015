using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Temporal;

/// <summary>
/// What a runbook's Temporal workflow did, in the kernel's shapes: its positions as <see cref="StepRecord"/>s and
/// its timeline as the kernel's event kinds (<c>run.created</c>, <c>step.scheduled</c>, <c>step.completed</c>,
/// <c>wait.started</c>, <c>signal.consumed</c>, ..., and every kind the interpreter records). It lives in workflow
/// state, so replay rebuilds it exactly, and the client reads it with the <c>journal</c> query; that is how
/// <c>runbook status</c>, <c>approve</c> and <c>timeline</c> read a Temporal run like a kernel run.
/// </summary>
/// <remarks>
/// Times are workflow time (the start of the workflow task that saw the fact), as on the kernel where they are the
/// worker's clock at commit. Attempts of an activity are retried by the server and are not seen by the workflow:
/// the journal has the outcome of the last one; each attempt is in Temporal's own history and UI.
/// </remarks>
internal sealed class RunJournal
{
    /// <summary>The actor of the facts the workflow itself records (the kernel writes its worker's id).</summary>
    public const string Actor = "temporal";

    private readonly List<StepRecord> steps = [];
    private readonly List<NewTimelineEvent> events = [];
    private readonly List<SignalRecord> pending = [];
    private long signalIds;

    public RunJournalSnapshot Snapshot() => new([.. steps], [.. events], [.. pending]);

    public void Created(DateTimeOffset at, string actor, JsonObject data) =>
        events.Add(new(at, actor, TimelineKinds.RunCreated, data.ToJsonString(WorkflowJson.Options)));

    public void Event(DateTimeOffset at, string actor, string kind, string? data) => events.Add(new(at, actor, kind, data));

    public void ActivityScheduled(int seq, string name, string activity, string? queue, JsonNode? input, StepOptions options, DateTimeOffset at)
    {
        steps.Add(Row(seq, name, StepKind.Activity, StepStatus.Queued, at) with
        {
            Attempt = 0,
            Activity = activity,
            Queue = queue,
            Input = input?.ToJsonString(WorkflowJson.Options),
            Options = JsonSerializer.Serialize(options, WorkflowJson.Options),
        });
        events.Add(new(at, Actor, TimelineKinds.StepScheduled, TimelineData.Of(("seq", seq), ("step", name), ("activity", activity), ("queue", queue))));
    }

    public void ActivityCompleted(int seq, JsonNode? output, DateTimeOffset at)
    {
        var row = Update(seq, r => r with { Status = StepStatus.Completed, Attempt = Math.Max(r.Attempt, 1), Output = output?.ToJsonString(WorkflowJson.Options), CompletedAt = at });
        events.Add(new(at, Actor, TimelineKinds.StepCompleted, TimelineData.Of(("seq", seq), ("step", row.Name), ("activity", row.Activity))));
    }

    public void ActivityFailed(int seq, string kind, string message, DateTimeOffset at)
    {
        var row = Update(seq, r => r with { Status = StepStatus.Failed, Attempt = Math.Max(r.Attempt, 1), ErrorKind = kind, ErrorMessage = message, CompletedAt = at });
        events.Add(new(at, Actor, TimelineKinds.StepFailed, TimelineData.Of(("seq", seq), ("step", row.Name), ("error_kind", kind), ("error", message), ("final", true))));
    }

    public void Recorded(int seq, string name, string kind, JsonNode? data, DateTimeOffset at)
    {
        var text = data?.ToJsonString(WorkflowJson.Options);
        steps.Add(Row(seq, name, StepKind.Inline, StepStatus.Completed, at) with { Output = text, CompletedAt = at });
        events.Add(new(at, Actor, kind, text));
    }

    public void TimerStarted(int seq, string name, DateTimeOffset until, DateTimeOffset at)
    {
        steps.Add(Row(seq, name, StepKind.Timer, StepStatus.Waiting, at) with { AvailableAt = until });
        events.Add(new(at, Actor, TimelineKinds.TimerStarted, TimelineData.Of(("seq", seq), ("step", name), ("until", until))));
    }

    public void TimerFired(int seq, DateTimeOffset at)
    {
        var row = Update(seq, r => r with { Status = StepStatus.Completed, CompletedAt = at });
        events.Add(new(at, Actor, TimelineKinds.TimerFired, TimelineData.Of(("seq", seq), ("step", row.Name), ("due", row.AvailableAt))));
    }

    public void WaitStarted(int seq, string name, string signal, DateTimeOffset? until, DateTimeOffset at)
    {
        steps.Add(Row(seq, name, StepKind.Signal, StepStatus.Waiting, at) with { Input = TimelineData.Of(("signal", signal)), AvailableAt = until });
        events.Add(new(at, Actor, TimelineKinds.WaitStarted, TimelineData.Of(("seq", seq), ("step", name), ("signal", signal), ("until", until))));
    }

    public void WaitTimedOut(int seq, DateTimeOffset at)
    {
        var row = Update(seq, r => r with { Status = StepStatus.Completed, CompletedAt = at });
        events.Add(new(at, Actor, TimelineKinds.WaitTimedOut, TimelineData.Of(("seq", seq), ("step", row.Name), ("signal", WorkflowJson.Parse(row.Input)?["signal"]?.GetValue<string>()), ("deadline", row.AvailableAt))));
    }

    /// <summary>A signal arrived: it is kept until a wait for its name takes it.</summary>
    public void Received(string name, JsonNode? payload, string sender, DateTimeOffset at)
    {
        var id = ++signalIds;
        pending.Add(new SignalRecord(id, name, payload?.ToJsonString(WorkflowJson.Options), sender, at, null));
        events.Add(new(at, sender, TimelineKinds.SignalReceived, TimelineData.Of(("signal", name), ("signal_id", id), ("payload", payload))));
    }

    public bool Has(string name) => pending.Exists(s => string.Equals(s.Name, name, StringComparison.Ordinal));

    /// <summary>The wait at <paramref name="seq"/> takes the oldest signal of its name.</summary>
    public ReceivedSignal Take(int seq, string name, DateTimeOffset at)
    {
        var index = pending.FindIndex(s => string.Equals(s.Name, name, StringComparison.Ordinal));
        var signal = pending[index];
        pending.RemoveAt(index);
        var received = new ReceivedSignal(signal.Name, WorkflowJson.Parse(signal.Payload), signal.Sender, signal.ReceivedAt);
        var row = Update(seq, r => r with { Status = StepStatus.Completed, Output = JsonSerializer.Serialize(received, WorkflowJson.Options), CompletedAt = at });
        events.Add(new(at, Actor, TimelineKinds.SignalConsumed, TimelineData.Of(("seq", seq), ("step", row.Name), ("signal", signal.Name), ("sender", signal.Sender), ("signal_id", signal.Id))));
        return received;
    }

    private static StepRecord Row(int seq, string name, StepKind kind, StepStatus status, DateTimeOffset at) =>
        new(seq, name, kind, status, 1, null, null, null, null, null, null, null, null, at, null, null, null);

    private StepRecord Update(int seq, Func<StepRecord, StepRecord> change)
    {
        var index = steps.FindLastIndex(r => r.Sequence == seq);
        steps[index] = change(steps[index]);
        return steps[index];
    }
}

/// <summary>The journal of a Temporal run as the <c>journal</c> query returns it.</summary>
/// <param name="Steps">Its positions in order.</param>
/// <param name="Events">Its timeline events in order (sequence numbers and hashes are given by the client).</param>
/// <param name="PendingSignals">Signals received and not yet taken.</param>
public sealed record RunJournalSnapshot(IReadOnlyList<StepRecord> Steps, IReadOnlyList<NewTimelineEvent> Events, IReadOnlyList<SignalRecord> PendingSignals);
