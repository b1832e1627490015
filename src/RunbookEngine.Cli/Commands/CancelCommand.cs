using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

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
            var run = await s.RunAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            var client = await s.ClientAsync(ct).ConfigureAwait(false);
            var outcome = await client.CancelAsync(run.RunId, s.Actor, parse.GetValue(reason), ct).ConfigureAwait(false);
            var (text, code) = outcome switch
            {
                CancelOutcome.Requested => ($"cancellation of run {run.RunId} requested by {s.Actor}", ExitCodes.Ok),
                CancelOutcome.AlreadyRequested => ($"cancellation of run {run.RunId} was already requested", ExitCodes.Ok),
                CancelOutcome.RunFinished => ($"run {run.RunId} has already ended ({run.Status.ToStoredName()})", ExitCodes.Failed),
                _ => ($"no run {run.RunId}", ExitCodes.Invalid),
            };
            if (s.Json)
            {
                s.WriteJson(new JsonObject { ["run_id"] = run.RunId, ["outcome"] = outcome.ToString() });
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
