using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook approve RUN</c> and <c>runbook reject RUN</c>.</summary>
internal static class DecideCommand
{
    public static Command Create(Func<ParseResult, CliSession> session, bool approve)
    {
        var verb = approve ? "approve" : "reject";
        var id = new Argument<string>("run") { Description = "The run id." };
        var step = new Option<string?>("--step") { Description = "The approval step (default: the one the run is waiting for)." };
        var comment = new Option<string?>("--message", "-m") { Description = "A comment, recorded in the timeline." };
        var command = new Command(verb, $"""
            {(approve ? "Approve" : "Reject")} the approval a run is waiting for, as RUNBOOK_USER (default: your OS user) with the
            groups in RUNBOOK_GROUPS (comma-separated). The decision is recorded in the timeline even when it is refused
            (four-eyes: whoever started the run cannot decide; only listed users or group members can). Exit 1 if refused.

            Example: RUNBOOK_USER=bob runbook {verb} run_0193c3d2... -m "{(approve ? "graphs look fine" : "wrong cluster")}"
            """);
        command.Add(id);
        command.Add(step);
        command.Add(comment);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var run = await s.RunAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            if (run.Status.IsTerminal())
            {
                throw new CliException($"run {run.RunId} has already ended ({run.Status.ToStoredName()}); nothing to {verb}");
            }

            var runbook = await s.PinnedRunbookAsync(run, ct).ConfigureAwait(false);
            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            var history = await store.LoadHistoryAsync(run.RunId, ct).ConfigureAwait(false);
            var pending = ApprovalRules.Pending(history)?.StepId;
            var stepId = parse.GetValue(step) ?? pending
                ?? throw new CliException($"run {run.RunId} is not waiting for an approval (status {run.Status.ToStoredName()}); name the step with --step to decide ahead of time");
            var approval = runbook.Steps.FirstOrDefault(x => x.Id == stepId && x.Type == StepType.Approval)
                ?? throw new CliException($"runbook '{runbook.Name}' has no approval step '{stepId}'; its approval steps: {string.Join(", ", runbook.Steps.Where(x => x.Type == StepType.Approval).Select(x => x.Id))}", ExitCodes.Invalid);

            var events = await store.GetTimelineAsync(run.RunId, 0, int.MaxValue, ct).ConfigureAwait(false);
            var granted = events.Where(e => e.Kind == "approval.granted" && WorkflowJson.Parse(e.Data)?["step"]?.GetValue<string>() == stepId)
                .Select(e => WorkflowJson.Parse(e.Data)?["by"]?.GetValue<string>() ?? string.Empty).ToList();
            var refusal = ApprovalRules.Refusal(approval.Approval!, run.CreatedBy, s.Actor, s.Groups, granted);

            // Sent even when refused: the workflow records the refused attempt, so the timeline shows who tried.
            var client = new WorkflowClient(store);
            var payload = new JsonObject
            {
                ["decision"] = verb,
                ["comment"] = parse.GetValue(comment),
                ["groups"] = new JsonArray([.. s.Groups.Select(g => JsonValue.Create(g))]),
            };
            var outcome = await client.SignalAsync(run.RunId, RunbookWorkflow.ApprovalSignalPrefix + stepId, payload, s.Actor, ct).ConfigureAwait(false);
            if (outcome != SignalOutcome.Delivered)
            {
                throw new CliException($"run {run.RunId} could not receive the decision ({outcome})");
            }

            if (s.Json)
            {
                s.WriteJson(new JsonObject { ["run_id"] = run.RunId, ["step"] = stepId, ["decision"] = verb, ["by"] = s.Actor, ["accepted"] = refusal is null, ["reason"] = refusal });
            }
            else if (refusal is null)
            {
                s.Line($"{(approve ? "approved" : "rejected")} step '{stepId}' of run {run.RunId} as {s.Actor}; the run continues when its worker picks it up");
            }
            else
            {
                s.Error($"runbook: refused: {refusal}");
            }

            return refusal is null ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
