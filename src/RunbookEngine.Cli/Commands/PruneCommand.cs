using System.CommandLine;
using System.Text.Json;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook prune --older-than 30d</c>: keeps the store bounded.</summary>
internal static class PruneCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var olderThan = new Option<string>("--older-than") { Description = "Remove finished runs that ended, and journal entries received, longer ago than this (e.g. 30d, 12h; at least 1h).", Required = true, HelpName = "DURATION" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only count what would be removed." };
        var export = new Option<string?>("--export") { Description = "Before removing a run, write its timeline to DIR/RUN.json (what `runbook timeline RUN --format json` prints).", HelpName = "DIR" };
        var batch = new Option<int>("--batch") { Description = "Runs removed per transaction (journal entries: ten times as many).", DefaultValueFactory = _ => 200, HelpName = "N" };
        var command = new Command("prune", """
            Remove old finished runs (completed, failed, cancelled, blocked) with their steps, signals and timelines,
            and old entries of the alert journal, a small batch per transaction so running work goes on. Live runs
            are never touched, whatever their age; runs a guard has not yet counted are kept for it.

            Each pruned run leaves a tombstone (what it was, who pruned it when, and the last hash of its timeline,
            so an export can be checked against it): `runbook status RUN` then says it was pruned. The hash chains
            of the runs kept still verify. Stopped half-way, a prune has removed whole batches: run it again.
            On a server, `runbook serve --retention 30d` prunes every hour instead.

            Examples:
              runbook prune --older-than 30d --dry-run
              runbook prune --older-than 90d --export /backup/runbook-timelines
            """);
        command.Add(olderThan);
        command.Add(dryRun);
        command.Add(export);
        command.Add(batch);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            if (s.IsRemote)
            {
                throw new CliException("prune works on the store itself (--store), not through a server: give the server's --store, or run `runbook serve --retention 30d`", ExitCodes.Invalid);
            }

            if (!Durations.TryParse(parse.GetValue(olderThan), out var age) || age < PruneRequest.Minimum)
            {
                throw new CliException($"--older-than '{parse.GetValue(olderThan)}' is not a duration of at least {Durations.Format(PruneRequest.Minimum)} (e.g. 30d, 12h)", ExitCodes.Invalid);
            }

            var size = parse.GetValue(batch);
            if (size is < 1 or > 10_000)
            {
                throw new CliException($"--batch must be from 1 to 10000 (got {size})", ExitCodes.Invalid);
            }

            var directory = parse.GetValue(export);
            var service = (LocalRunbookService)await s.ServiceAsync(ct).ConfigureAwait(false);
            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            if (directory is not null)
            {
                try
                {
                    Directory.CreateDirectory(directory);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    throw new CliException($"--export: cannot create the directory {directory}: {ex.Message}", ExitCodes.Invalid);
                }
            }

            var request = new PruneRequest(age, s.Actor)
            {
                DryRun = parse.GetValue(dryRun),
                BatchSize = size,
                Runs = !s.IsTemporal, // on Temporal the runs are Temporal's: its namespace retention removes them
                Export = directory is null ? null : (run, token) => ExportAsync(service, directory, run.RunId, token),
            };
            var shown = TimeProvider.System.GetTimestamp();
            var progress = new Progress(r =>
            {
                if (!s.Json && TimeProvider.System.GetElapsedTime(shown) >= TimeSpan.FromSeconds(1))
                {
                    s.Error($"pruned {r.Runs:N0} runs ({r.Events:N0} events), {r.JournalEntries:N0} journal entries so far...");
                    shown = TimeProvider.System.GetTimestamp();
                }
            });
            var report = await new StorePruner(store).PruneAsync(request, progress, ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(report);
                return ExitCodes.Ok;
            }

            var before = CliSession.Time(report.Cutoff);
            s.Line(report.DryRun
                ? $"would remove {report.Runs:N0} finished runs ({report.Events:N0} timeline events) that ended before {before}Z and {report.JournalEntries:N0} journal entries from {s.StoreName} (dry run: nothing removed)"
                : $"removed {report.Runs:N0} finished runs ({report.Events:N0} timeline events) that ended before {before}Z and {report.JournalEntries:N0} journal entries from {s.StoreName}" + (directory is null ? string.Empty : $"; {report.Exported:N0} exported to {directory}"));
            if (report.HeldByGuards > 0)
            {
                s.Line($"kept {report.HeldByGuards:N0} older runs a guard has not yet counted (they go once the next run of their target has started)");
            }

            if (s.IsTemporal)
            {
                s.Line("runs on Temporal are kept by the namespace's retention period, not by prune");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Writes a run's timeline, as `runbook timeline --format json` prints it, durably before the run is removed.</summary>
    private static async Task ExportAsync(LocalRunbookService service, string directory, string runId, CancellationToken cancellationToken)
    {
        if (runId.Length == 0 || runId.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || runId.StartsWith('.'))
        {
            throw new CliException($"run id '{runId}' cannot be a file name; prune it without --export, or export it with `runbook timeline` first", ExitCodes.Failed);
        }

        var timeline = await service.GetTimelineAsync(runId, 0, cancellationToken).ConfigureAwait(false);
        var path = Path.Combine(directory, runId + ".json");
        var temporary = path + ".tmp";
        try
        {
            var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                await JsonSerializer.SerializeAsync(stream, timeline, CliSession.JsonOptions, cancellationToken).ConfigureAwait(false);
                await stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true); // on disk before the run is gone
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--export: cannot write {path}: {ex.Message}; nothing more was pruned", ExitCodes.Failed);
        }
    }

    private sealed class Progress(Action<PruneReport> report) : IProgress<PruneReport>
    {
        public void Report(PruneReport value) => report(value);
    }
}
