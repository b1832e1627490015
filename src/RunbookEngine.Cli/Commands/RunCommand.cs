using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook run NAME|FILE</c>: starts a run and, unless detached, executes and follows it here.</summary>
internal static class RunCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var target = new Argument<string>("runbook") { Description = "A runbook name (from the runbooks directory) or a file path (not with --server)." };
        var inputs = new Option<string[]>("--param", "-p") { Description = "An input as key=value; repeat for each input.", AllowMultipleArgumentsPerToken = false };
        var dryRun = new Option<bool>("--dry-run") { Description = "Plan every action without doing anything: no side effect anywhere; approvals show who would be asked." };
        var detach = new Option<bool>("--detach") { Description = "Only start the run and print its id; a `runbook worker` executes it." };
        var key = new Option<string?>("--idempotency-key") { Description = "Starting twice with the same key returns the first run instead of starting another." };
        var command = new Command("run", """
            Start a run of a runbook and follow it until it ends. A run waiting for approval says which command
            approves it; it continues as soon as someone approves from any terminal. Exit 0 when it completes,
            1 when it fails, is rejected or cancelled, 2 for invalid input, 3 when a guard of the runbook blocks it
            (`runbook guards` shows why). With --server, the server's workers execute it and this command follows
            it through the API.

            Examples:
              runbook run disk-full-cleanup -p path=/var/log -p threshold=80 --dry-run
              runbook run runbooks/restart-unhealthy-service.yaml -p health_url=http://127.0.0.1:8080/health -p restart_url=http://127.0.0.1:8080/restart --detach
            """);
        command.Add(target);
        command.Add(inputs);
        command.Add(dryRun);
        command.Add(detach);
        command.Add(key);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var given = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in parse.GetValue(inputs) ?? [])
            {
                var eq = p.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new CliException($"-p '{p}': write inputs as key=value", ExitCodes.Invalid);
                }

                given[p[..eq]] = p[(eq + 1)..];
            }

            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var isDry = parse.GetValue(dryRun);
            var started = await service.StartAsync(
                new StartRequest { Runbook = parse.GetValue(target)!, Inputs = given, DryRun = isDry, IdempotencyKey = parse.GetValue(key) },
                s.Caller,
                ct).ConfigureAwait(false);
            var run = started.Run;
            if (parse.GetValue(detach))
            {
                if (s.Json)
                {
                    s.WriteJson(new JsonObject { ["run_id"] = run.RunId, ["created"] = started.Created, ["status"] = run.Status });
                }
                else
                {
                    s.Line(run.RunId);
                }

                if (run.Status == "blocked")
                {
                    s.Error($"runbook: run {run.RunId} blocked by a guard: {run.Error}");
                    return ExitCodes.Blocked;
                }

                return ExitCodes.Ok;
            }

            if (!s.Json)
            {
                s.Line(started.Created
                    ? $"run {run.RunId}: {run.Runbook}{(isDry ? " (dry-run: nothing will be changed)" : string.Empty)}"
                    : $"run {run.RunId} already exists for this idempotency key ({run.Status}); following it");
            }

            return await Follower.FollowAsync(s, run.RunId, ct).ConfigureAwait(false);
        });
        return command;
    }
}
