using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>
/// The approval gate the engine adds to a run an alert started. With the trigger's <c>mode: approval</c> the run
/// waits before its first step that changes anything; otherwise it waits before its first destructive step
/// (unless the trigger says <c>destructive: allow</c>). Once any approval of the run has been granted (the gate's
/// or one of the runbook's own approval steps) a person has looked, and the run goes on unattended.
/// </summary>
/// <remarks>
/// The gate travels in the run's input, so it is fixed when the run starts and replays exactly. It is decided
/// per action call from <see cref="IRunbookAction.Classify"/>, a pure function of the step's inputs.
/// </remarks>
// Workflow code: every await keeps its continuation on the engine's scheduler (ConfigureAwait(true)), since
// Temporal runs workflows on a deterministic scheduler of its own and a continuation on the thread pool would
// leave it; on the kernel there is no context, so it costs nothing.
public sealed class RunGate
{
    private RunGate(SideEffect before, ApprovalSpec? approval, string trigger, string mode)
    {
        Before = before;
        Approval = approval;
        Trigger = trigger;
        Mode = mode;
    }

    /// <summary>Gets the least side effect that waits for the gate.</summary>
    public SideEffect Before { get; }

    /// <summary>Gets who approves, or null when the trigger names no one (a destructive step then fails).</summary>
    public ApprovalSpec? Approval { get; }

    /// <summary>Gets where the trigger is declared.</summary>
    public string Trigger { get; }

    /// <summary>Gets <c>approval</c> (the trigger's mode) or <c>destructive</c>.</summary>
    public string Mode { get; }

    /// <summary>Gets a value indicating whether the run has been approved, so no gate is added any more.</summary>
    public bool Passed { get; private set; }

    /// <summary>The gate a trigger puts on the runs it starts, as stored in the run's input; null for none.</summary>
    /// <param name="trigger">The trigger.</param>
    /// <returns>The stored gate, or null.</returns>
    public static JsonObject? For(TriggerSpec trigger)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        var mode = trigger.Mode switch
        {
            TriggerMode.Approval => "approval",
            TriggerMode.Live when !trigger.AllowDestructive => "destructive",
            _ => null,
        };
        if (mode is null)
        {
            return null;
        }

        var gate = new JsonObject { ["mode"] = mode, ["trigger"] = trigger.Location.ToString() };
        if (trigger.Approval is { } a)
        {
            gate["approvers"] = new JsonArray([.. a.Approvers.Select(x => JsonValue.Create(x))]);
            gate["min"] = a.Min;
            gate["timeout"] = a.Timeout is { } t ? Durations.Format(t) : null;
            gate["on_timeout"] = a.OnTimeout;
        }

        return gate;
    }

    /// <summary>Reads the stored gate.</summary>
    /// <param name="gate">The run input's gate.</param>
    /// <returns>The gate, or null.</returns>
    internal static RunGate? FromJson(JsonObject? gate)
    {
        if (gate is null)
        {
            return null;
        }

        var mode = gate["mode"]?.GetValue<string>() ?? "destructive";
        ApprovalSpec? approval = null;
        if (gate["approvers"] is JsonArray approvers)
        {
            var timeout = gate["timeout"]?.GetValue<string>() is { } text && Durations.TryParse(text, out var t) ? t : (TimeSpan?)null;
            approval = new ApprovalSpec([.. approvers.Select(x => x!.GetValue<string>())], gate["min"]?.GetValue<int>() ?? 1, timeout, gate["on_timeout"]?.GetValue<string>() ?? "reject", false, null);
        }

        return new RunGate(mode == "approval" ? SideEffect.Mutating : SideEffect.Destructive, approval, gate["trigger"]?.GetValue<string>() ?? "its trigger", mode);
    }

    /// <summary>Notes that an approval of the run was granted.</summary>
    internal void Pass() => Passed = true;

    /// <summary>Waits for the gate before an action call that needs it; returns at once otherwise.</summary>
    /// <exception cref="StepFailedException">Rejected, timed out, or destructive with no approvers named.</exception>
    internal async Task BeforeAsync(IWorkflowContext ctx, IRunbookAction action, JsonObject with, string stepId, string position)
    {
        var effect = action.Classify(with);
        if (Passed || effect < Before)
        {
            return;
        }

        var what = effect == SideEffect.Destructive ? "destructive" : "changes something";
        if (Approval is null)
        {
            throw new StepFailedException(stepId, 0, "ApprovalRequired", $"step '{stepId}' ({action.Name}) is destructive and this run was started by an alert, but the trigger at {Trigger} names no approvers: add approval: {{ approvers: [...] }} to the trigger, or destructive: allow to let such steps run unattended", 0);
        }

        var message = Mode == "approval"
            ? $"this run was started by an alert under mode: approval (trigger at {Trigger}); step '{stepId}' ({action.Name}) {what}: approve to let the run go on"
            : $"this run was started by an alert (trigger at {Trigger}) and step '{stepId}' ({action.Name}) is destructive: approve to let it run";
        await StepOperations.ApproveAsync(ctx, Approval, message, stepId + "/approval", position + "/approval", dryRun: false, gate: Mode).ConfigureAwait(true);
        Passed = true;
    }
}
