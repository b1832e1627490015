using System.CommandLine;
using Microsoft.Extensions.Logging;
using RunbookEngine.Runbooks;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook worker</c>: a long-running worker.</summary>
internal static class WorkerCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var queues = new Option<string[]>("--queue", "-q") { Description = "A task queue to serve; repeat for several (default: default)." };
        var concurrency = new Option<int>("--concurrency") { Description = "How many runs and actions at once (default 8).", DefaultValueFactory = _ => 8 };
        var command = new Command("worker", """
            Execute runs and queued actions until stopped. Ctrl-C drains: in-flight steps finish (up to 30 s),
            then the rest is handed back to other workers at once.

            Examples:
              runbook worker
              runbook worker --queue ops --queue default --concurrency 16
            """);
        command.Add(queues);
        command.Add(concurrency);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var n = parse.GetValue(concurrency);
            if (n is < 1 or > 1024)
            {
                throw new CliException("--concurrency must be from 1 to 1024", ExitCodes.Invalid);
            }

            var served = parse.GetValue(queues) is { Length: > 0 } q ? q : ["default"];
            var worker = await s.WorkerAsync(new WorkerOptions { Queues = served, MaxConcurrentRuns = n, MaxConcurrentActivities = n, PollInterval = TimeSpan.FromMilliseconds(250) }, ct).ConfigureAwait(false);
            await using (worker.ConfigureAwait(false))
            {
                s.Line($"worker {worker.WorkerId} serving {string.Join(", ", served)} on {s.StorePath}; Ctrl-C to stop");
                await worker.RunAsync(ct).ConfigureAwait(false);
                s.Line($"worker {worker.WorkerId} stopped");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
