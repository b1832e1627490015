using System.CommandLine;
using Microsoft.Extensions.Logging;
using RunbookEngine.Runbooks;
using RunbookEngine.Temporal;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook worker</c>: a long-running worker.</summary>
internal static class WorkerCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var queues = new Option<string[]>("--queue", "-q") { Description = "A task queue to serve; repeat for several (default: default)." };
        var concurrency = new Option<int>("--concurrency") { Description = "How many runs and actions at once (default 8).", DefaultValueFactory = _ => 8 };
        var lease = new Option<string>("--lease") { Description = "How long this worker's claim on a run lasts unless renewed: if the worker dies, others resume its runs after this (default 30s).", DefaultValueFactory = _ => "30s" };
        var command = new Command("worker", """
            Execute runs and queued actions until stopped. Ctrl-C drains: in-flight steps finish (up to 30 s),
            then the rest is handed back to other workers at once. Start as many workers as you like on one
            SQLite file (one machine) or on one PostgreSQL database (many machines); while PostgreSQL is
            unreachable they retry with backoff and carry on when it is back.

            Examples:
              runbook worker
              runbook worker --queue ops --queue default --concurrency 16
              runbook worker --store "Host=db;Database=runbook;Username=runbook" --lease 15s
              runbook worker --engine temporal --temporal-address temporal:7233 --queue gpu

            With --engine temporal it is a Temporal worker: it polls --task-queue (default runbooks) for runbook
            workflows and their actions, and each --queue for the actions of steps with that queue:. --lease
            does not apply (Temporal's heartbeats and timeouts do).
            """);
        command.Add(queues);
        command.Add(concurrency);
        command.Add(lease);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            if (s.IsRemote)
            {
                throw new CliException("a worker works on the store itself: give it --store (the server's database), not --server", ExitCodes.Invalid);
            }

            s.ReconnectWindow = TimeSpan.FromMinutes(2);
            var n = parse.GetValue(concurrency);
            if (!Durations.TryParse(parse.GetValue(lease), out var leaseDuration) || leaseDuration < TimeSpan.FromSeconds(1) || leaseDuration > TimeSpan.FromHours(1))
            {
                throw new CliException($"--lease '{parse.GetValue(lease)}' is not a duration from 1s to 1h (e.g. 15s, 2m)", ExitCodes.Invalid);
            }

            if (n is < 1 or > 1024)
            {
                throw new CliException("--concurrency must be from 1 to 1024", ExitCodes.Invalid);
            }

            if (s.IsTemporal)
            {
                var (client, options) = await s.TemporalAsync(ct).ConfigureAwait(false);
                var extra = parse.GetValue(queues) ?? [];
                s.Line($"worker serving runbook workflows on task queue {options.TaskQueue}{(extra.Length > 0 ? " and actions on " + string.Join(", ", extra) : string.Empty)} at {s.RunsName}; Ctrl-C to stop");
                await TemporalRunbookWorker.RunAsync(client, s.Actions, new TemporalRunbookWorker.WorkerSettings { WorkflowTaskQueue = options.TaskQueue, Queues = extra, Concurrency = n }, s.Loggers, ct).ConfigureAwait(false);
                s.Line("worker stopped");
                return ExitCodes.Ok;
            }

            var served = parse.GetValue(queues) is { Length: > 0 } q ? q : ["default"];
            var worker = await s.WorkerAsync(new WorkerOptions { Queues = served, MaxConcurrentRuns = n, MaxConcurrentActivities = n, PollInterval = TimeSpan.FromMilliseconds(250), LeaseDuration = leaseDuration }, ct).ConfigureAwait(false);
            await using (worker.ConfigureAwait(false))
            {
                s.Line($"worker {worker.WorkerId} serving {string.Join(", ", served)} on {s.StoreName}; Ctrl-C to stop");
                await worker.RunAsync(ct).ConfigureAwait(false);
                s.Line($"worker {worker.WorkerId} stopped");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
