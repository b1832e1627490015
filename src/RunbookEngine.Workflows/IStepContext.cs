using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Workflows;

/// <summary>What a step attempt knows about itself, whichever engine runs it.</summary>
public interface IStepContext
{
    /// <summary>Gets the run id.</summary>
    string RunId { get; }

    /// <summary>Gets the step name.</summary>
    string StepName { get; }

    /// <summary>Gets the step's position in the run.</summary>
    int Sequence { get; }

    /// <summary>Gets the 1-based attempt number; an attempt interrupted by a crash counts.</summary>
    int Attempt { get; }

    /// <summary>Gets the input of an activity step (null for a workflow's own code).</summary>
    JsonNode? Input { get; }

    /// <summary>Gets the logger.</summary>
    ILogger Logger { get; }

    /// <summary>Gets the token cancelled on attempt timeout, run cancellation or worker shutdown.</summary>
    CancellationToken CancellationToken { get; }

    /// <summary>Gets the key unique to this attempt: <c>{run}/{sequence}/{attempt}</c>.</summary>
    string IdempotencyKey { get; }

    /// <summary>Gets the key shared by every attempt of this step: <c>{run}/{sequence}</c>. Use it to find out what an interrupted attempt already did.</summary>
    string StepKey { get; }

    /// <summary>
    /// Gets the progress the latest earlier attempt of this step saved with <see cref="SaveProgressAsync"/> (or this
    /// attempt, after it saved some), or null when none did.
    /// </summary>
    JsonNode? Progress { get; }

    /// <summary>
    /// Records durably how far this attempt got, before it goes on: typically the id of an operation it started on
    /// a remote system, so that the next attempt after a crash, a lost lease or a failure resumes following that
    /// operation instead of starting it again. Keep it small and never put a secret in it: it is part of the run's
    /// record (a <c>step.progress</c> timeline event on the kernel).
    /// </summary>
    /// <param name="progress">What to hand to the next attempt.</param>
    /// <returns>When the progress is stored (on the kernel: committed under the attempt's lease).</returns>
    Task SaveProgressAsync(JsonNode progress);

    /// <summary>Says the attempt is still alive, with optional progress details.</summary>
    /// <param name="details">Progress an engine may keep (Temporal hands it to the next attempt).</param>
    /// <remarks>
    /// The kernel renews every lease of the worker by its own heartbeat, so this is a no-op there; on Temporal it
    /// is the activity heartbeat, which a heartbeat timeout and cancellation delivery depend on.
    /// </remarks>
    void Heartbeat(JsonNode? details = null);
}
