using System.Buffers;
using System.Text;
using System.Text.Json;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>
/// The inline step a run is executing, held on the run's row (<c>runs.running_step</c>) instead of in a steps row.
/// A run executes one operation at a time, so while an inline step runs, its row in the history is the only one
/// that says "running", and the run's own commits are the only writes of its steps: the next commit of the run
/// that writes any step is the one that ends it (completed, failed, retrying) or moves on. Holding it on the run's
/// row, which every commit updates anyway (a HOT update: no new index entries), means the step's row is written
/// once, when it ends, instead of inserted when it starts and rewritten when it ends (a non-HOT update: a new heap
/// tuple and a new primary-key entry); see docs/benchmarks.md. The history reads the held step as the run's last
/// row; a step whose input or output is too large to keep inline keeps its steps row, as do activities and timers.
/// </content>
public sealed partial class PostgresWorkflowStore
{
    /// <summary>
    /// How a run-lease commit changes the held step: <paramref name="Touch"/> when it writes any step (then the
    /// held step becomes <paramref name="Held"/>, or none), and the step write it holds there rather than in
    /// steps (its last one, when that is a running inline step whose payloads stay inline).
    /// </summary>
    private readonly record struct RunningStepChange(bool Touch, StepWrite? Held, string? Json);

    private RunningStepChange RunningStepOf(RunCommit commit)
    {
        if (commit.FencedStep is not null || commit.Steps.Count == 0)
        {
            // An activity's outcome (the activity's own lease) or a commit of events only leaves the held step as it is.
            return default;
        }

        var last = commit.Steps[^1];
        var s = last.Step;
        if (s.Kind != StepKind.Inline || s.Status != StepStatus.Running || Payload(s.Input).Ref is not null || Payload(s.Output).Ref is not null)
        {
            return new(true, null, null);
        }

        return new(true, last, WriteRunningStep(s));
    }

    /// <summary>The step writes of a commit that go to the steps table (all but the held one).</summary>
    private static IEnumerable<StepWrite> StepRows(RunCommit commit, RunningStepChange change) =>
        change.Held is { } held ? commit.Steps.Where(w => !ReferenceEquals(w, held)) : commit.Steps;

    /// <summary>A run's history with its held step: it replaces the steps row at its position (a retried step's), or comes last.</summary>
    private static List<StepRecord> WithRunningStep(List<StepRecord> steps, string? json)
    {
        if (json is null)
        {
            return steps;
        }

        var held = ReadRunningStep(json);
        var at = steps.FindIndex(s => s.Sequence == held.Sequence);
        if (steps.Exists(s => s.Sequence > held.Sequence) || (at >= 0 && steps[at].Status is StepStatus.Completed or StepStatus.Failed))
        {
            // Left behind by a process of a version before schema 13 (running during an upgrade), which wrote the
            // step's end to its row without clearing this: the row is what happened.
            return steps;
        }

        if (at >= 0)
        {
            steps[at] = held;
        }
        else
        {
            steps.Add(held);
            steps.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        }

        return steps;
    }

    private static string WriteRunningStep(StepRecord s)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", s.Sequence);
            w.WriteString("name", s.Name);
            w.WriteNumber("attempt", s.Attempt);
            Text(w, "queue", s.Queue);
            Text(w, "activity", s.Activity);
            Text(w, "input", s.Input);
            Text(w, "output", s.Output);
            Text(w, "error_kind", s.ErrorKind);
            Text(w, "error_message", s.ErrorMessage);
            Text(w, "options", s.Options);
            At(w, "available_at", s.AvailableAt);
            At(w, "started_at", s.StartedAt);
            At(w, "completed_at", s.CompletedAt);
            Text(w, "lease_owner", s.LeaseOwner);
            At(w, "lease_expires_at", s.LeaseExpiresAt);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);

        static void Text(Utf8JsonWriter w, string name, string? value)
        {
            if (value is not null)
            {
                w.WriteString(name, value);
            }
        }

        // As a timestamptz column keeps it: the millisecond, in UTC.
        static void At(Utf8JsonWriter w, string name, DateTimeOffset? value)
        {
            if (value is { } v)
            {
                w.WriteNumber(name, v.ToUnixTimeMilliseconds());
            }
        }
    }

    private static StepRecord ReadRunningStep(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var o = doc.RootElement;
        string? Text(string name) => o.TryGetProperty(name, out var v) ? v.GetString() : null;
        DateTimeOffset? At(string name) => o.TryGetProperty(name, out var v) ? DateTimeOffset.FromUnixTimeMilliseconds(v.GetInt64()) : null;
        return new StepRecord(
            o.GetProperty("seq").GetInt32(),
            o.GetProperty("name").GetString()!,
            StepKind.Inline,
            StepStatus.Running,
            o.GetProperty("attempt").GetInt32(),
            Text("queue"),
            Text("activity"),
            Text("input"),
            Text("output"),
            Text("error_kind"),
            Text("error_message"),
            Text("options"),
            At("available_at"),
            At("started_at"),
            At("completed_at"),
            Text("lease_owner"),
            At("lease_expires_at"));
    }
}
