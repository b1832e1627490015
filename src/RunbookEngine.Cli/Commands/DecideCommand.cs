using System.CommandLine;

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
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var result = await service.DecideAsync(parse.GetValue(id)!, approve, parse.GetValue(step), parse.GetValue(comment), s.Caller, ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(result);
            }
            else if (result.Accepted)
            {
                s.Line($"{(approve ? "approved" : "rejected")} step '{result.Step}' of run {result.RunId} as {result.By}; the run continues when its worker picks it up");
            }
            else
            {
                s.Error($"runbook: refused: {result.Reason}");
            }

            return result.Accepted ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
