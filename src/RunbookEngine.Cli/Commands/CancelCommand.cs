using System.CommandLine;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook cancel RUN</c>.</summary>
internal static class CancelCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var id = new Argument<string>("run") { Description = "The run id." };
        var reason = new Option<string?>("--message", "-m") { Description = "Why; recorded in the timeline with who asked." };
        var command = new Command("cancel", """
            Cancel a run. A waiting run ends at once (when a worker picks it up); a running step is asked to stop
            through its cancellation token at the worker's next heartbeat.

            Example: runbook cancel run_0193c3d2... -m "wrong host"
            """);
        command.Add(id);
        command.Add(reason);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var result = await service.CancelAsync(parse.GetValue(id)!, parse.GetValue(reason), s.Caller, ct).ConfigureAwait(false);
            var (text, code) = result.Outcome switch
            {
                "Requested" => ($"cancellation of run {result.RunId} requested by {s.Caller.Actor}", ExitCodes.Ok),
                "AlreadyRequested" => ($"cancellation of run {result.RunId} was already requested", ExitCodes.Ok),
                "RunFinished" => ($"run {result.RunId} has already ended ({result.Status})", ExitCodes.Failed),
                _ => ($"no run {result.RunId}", ExitCodes.Invalid),
            };
            if (s.Json)
            {
                s.WriteJson(new System.Text.Json.Nodes.JsonObject { ["run_id"] = result.RunId, ["outcome"] = result.Outcome });
            }
            else if (code == ExitCodes.Ok)
            {
                s.Line(text);
            }
            else
            {
                s.Error("runbook: " + text);
            }

            return code;
        });
        return command;
    }
}
