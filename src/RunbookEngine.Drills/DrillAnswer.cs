using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>How one call of an action is answered in a drill: with a result, a failure, or never (it hangs).</summary>
/// <param name="Result">The result object the action returns (<c>respond:</c>), or null.</param>
/// <param name="ErrorKind">The error kind it fails with (<c>fail:</c>), or null.</param>
/// <param name="Message">The failure's message.</param>
/// <param name="NonRetryable">Whether the failure must not be retried.</param>
/// <param name="Hang">Whether the call never returns (only a timeout or a cancel ends it).</param>
/// <param name="Latency">How long the call takes, in virtual time.</param>
/// <param name="Times">How many calls this answer serves before the next one; the last answer serves every call after.</param>
/// <param name="At">Where it is written.</param>
public sealed record DrillAnswer(JsonObject? Result, string? ErrorKind, string? Message, bool NonRetryable, bool Hang, TimeSpan Latency, int Times, SourceLocation At)
{
    /// <summary>Gets the keys of an answer.</summary>
    public static readonly string[] Keys = ["respond", "fail", "hang", "latency", "times"];

    /// <summary>Gets what the answer does, in a few words.</summary>
    public string Describe() =>
        (Hang ? "hangs" : ErrorKind is not null ? $"fails ({ErrorKind})" : "responds")
        + (Latency > TimeSpan.Zero ? $" after {Workflows.Durations.Format(Latency)}" : string.Empty);
}
