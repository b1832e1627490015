using System.CommandLine;
using RunbookEngine.Drills;
using RunbookEngine.Runbooks;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook drill run PATH...</c>: game-day drills replayed on virtual time.</summary>
internal static class DrillCommand
{
    private static readonly string[] Formats = ["text", "md", "json", "junit"];

    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var command = new Command("drill", """
            Game-day drills: replay an incident (alerts, how each target answered, who approved) against
            today's runbook, on virtual time, with every action answered from the drill file: nothing leaves
            the machine. `runbook drill run --help` says how; docs/drills.md describes the file.

            Every drill run is kept in the store (or on the server) with who ran it: `runbook drill list`
            shows them, `runbook drill show ID` prints one again.

            Examples: runbook drill run drills/ ; runbook drill record RUN -o drills/NAME.drill.yaml ;
                      runbook drill list --failed
            """);
        command.Add(CreateRun(session));
        command.Add(CreateRecord(session));
        command.Add(CreateList(session));
        command.Add(CreateShow(session));
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            s.Error("runbook drill: say what to do: `runbook drill run drills/` (see runbook drill run --help)");
            return ExitCodes.Invalid;
        });
        return command;
    }

    private static Command CreateRecord(Func<ParseResult, CliSession> session)
    {
        var run = new Argument<string>("run") { Description = "The run to record (an id, as `runbook runs` lists them)." };
        var output = new Option<string>("--out", "-o") { Description = "The drill file to write, e.g. drills/disk-full-web-1.drill.yaml.", Required = true };
        var name = new Option<string?>("--name") { Description = "The drill's name (default: the runbook's name and the run's date)." };
        var force = new Option<bool>("--force") { Description = "Overwrite the file if it exists." };
        var command = new Command("record", """
            Turn a real run into a drill: its trigger (the alert with when it fired, repeated and resolved) or
            who started it with which inputs, every action call's outcome and duration, every approval
            decision (who, groups, after how long, comment), and expectations that the replay does what the run
            did (outcome, steps run and skipped, MTTD/MTTR, the same calls with the same inputs). Secret inputs
            stay secret:// references and results were redacted before they were stored: nothing secret lands
            in the file. Replay it with `runbook drill run FILE`; edit it to try what-ifs.

            Example: runbook drill record run_01a2... -o drills/disk-full-web-1.drill.yaml
            """);
        command.Add(run);
        command.Add(output);
        command.Add(name);
        command.Add(force);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var path = parse.GetValue(output)!;
            if (!DrillParser.IsDrillFile(path))
            {
                throw new CliException($"--out {path}: a drill file's name ends in {DrillParser.Extension}", ExitCodes.Invalid);
            }

            if (File.Exists(path) && !parse.GetValue(force))
            {
                throw new CliException($"{path} exists; pass --force to overwrite it", ExitCodes.Invalid);
            }

            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var detail = await service.GetRunDetailAsync(parse.GetValue(run)!, ct).ConfigureAwait(false);
            var timeline = await service.GetTimelineAsync(detail.Run.RunId, 0, ct).ConfigureAwait(false);
            var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;

            // The runbook as the drill names it: the file the run was started from, relative to the drill, if it is
            // here; else its name, found in the runbook directories when replayed.
            var file = timeline.Events.FirstOrDefault(e => e.Kind == "run.created")?.Data?["file"]?.GetValue<string>();
            var runbook = file is not null && File.Exists(file) ? Path.GetRelativePath(directory, Path.GetFullPath(file)) : detail.Run.Runbook;
            var (yaml, summary) = DrillRecorder.Record(detail, timeline, runbook, parse.GetValue(name));
            Directory.CreateDirectory(directory);
            await File.WriteAllTextAsync(path, yaml, ct).ConfigureAwait(false);
            var check = DrillLoader.Load(path, s.Actions, [s.RunbooksDirectory]);
            if (s.Json)
            {
                s.WriteJson(new System.Text.Json.Nodes.JsonObject { ["file"] = path, ["run_id"] = detail.Run.RunId, ["runbook"] = runbook, ["summary"] = summary, ["valid"] = check.Valid });
            }
            else
            {
                s.Line($"recorded run {detail.Run.RunId} ({summary}) to {path}; replay it with: runbook drill run {path}");
            }

            s.PrintDiagnostics(check.Diagnostics);
            return check.Valid ? ExitCodes.Ok : ExitCodes.Invalid;
        });
        return command;
    }

    private static Command CreateRun(Func<ParseResult, CliSession> session)
    {
        var paths = new Argument<string[]>("path") { Description = "Drill files (*.drill.yaml) or directories of them (default: drills).", Arity = ArgumentArity.ZeroOrMore };
        var runbook = new Option<string?>("--runbook") { Description = "Replay against this runbook file instead of the one the drill names (e.g. your edited copy)." };
        var report = new Option<string?>("--report") { Description = "Report format: text (default), md (for a postmortem), json, junit (for CI)." };
        report.AcceptOnlyFromAmong(Formats);
        var outFile = new Option<string?>("--out") { Description = "Write the report to this file; the terminal still gets the short text." };
        var svg = new Option<string?>("--svg") { Description = "Write an SVG timeline chart of each drill (alert, detection, steps, approval waits, recovery) into this directory." };
        var live = new Option<bool>("--live") { Description = "Run the drill for real against the server (--server URL, an operator --token; without --server, a server of its own on 127.0.0.1 over the local store): its alerts go through the webhook marked as the drill's, actions run for real, live.stop_conditions are checked in Prometheus while it runs." };
        var pagerDuty = new Option<string?>("--pagerduty-secret") { Description = "With --live: sign PagerDuty deliveries with this secret (a reference: secret://env/NAME or secret://file/PATH), for a server whose /hooks/pagerduty takes only signed ones (serve --pagerduty-secret)." };
        var noStore = new Option<bool>("--no-store") { Description = "Do not keep the reports in the store (or on the server); by default each drill's report is kept for `runbook drill list`." };
        var command = new Command("run", """
            Replay drills: each drill's alerts go through the real alert routing, guards, interpreter, retries,
            timeouts and approvals, on a throwaway store and on virtual time, so hours of incident replay in
            milliseconds and the same file gives the same timeline every time. No action's code runs: each call
            is answered as the drill says (respond, fail, hang, latency), so no process, HTTP request or cloud
            call leaves the drill, and no secret is read. Checks each expectation and reports MTTD (alert fired
            to run started) and MTTR (alert fired to verified recovery). Each report is kept in the store (or
            on the server, with --server) with who ran it, for `runbook drill list`; --no-store keeps none.
            Exit 0 when every expectation held, 1 when one did not, 2 when a drill file is invalid (then none runs).

            With --live the drill is a game day for real, against a running server (--server; without it, a
            server of the drill's own on 127.0.0.1 over the local store): each alert is posted to
            the server's webhook for its source (/hooks/alertmanager, grafana, pagerduty, azure-monitor) at its
            time, in that source's format (marked as the drill's: its runs are listed as drill runs and never
            counted as incidents; --pagerduty-secret signs PagerDuty deliveries), the runbook's actions run for real, people approve, and the
            drill's live.stop_conditions (PromQL) are asked of Prometheus every live.poll: when one holds, the
            drill's runs are cancelled and the drill fails. MTTD and MTTR are measured on the wall clock.

            Examples:
              runbook drill run drills/
              runbook drill run drills/disk-full.drill.yaml --runbook runbooks/disk-full-cleanup.yaml
              runbook --server http://127.0.0.1:8080 --token $TOKEN drill run drills/api-down.drill.yaml --live
              runbook drill run drills/ --report junit --out drill-results.xml
              runbook drill run drills/ --report md --out drills.md --svg charts/
            """);
        command.Add(paths);
        command.Add(runbook);
        command.Add(report);
        command.Add(outFile);
        command.Add(svg);
        command.Add(noStore);
        command.Add(live);
        command.Add(pagerDuty);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var given = parse.GetValue(paths) is { Length: > 0 } p ? p : ["drills"];
            var (files, missing) = DrillLoader.Files(given);
            foreach (var m in missing)
            {
                s.Error($"{m}: no such file or directory");
            }

            if (files.Count == 0)
            {
                if (missing.Count == 0)
                {
                    s.Error($"no drill files (*{DrillParser.Extension}) in {string.Join(", ", given)}");
                }

                return ExitCodes.Invalid;
            }

            var loaded = files.Select(f => DrillLoader.Load(f, s.Actions, [s.RunbooksDirectory], parse.GetValue(runbook))).ToList();
            var invalid = loaded.Where(l => !l.Valid).ToList();
            if (invalid.Count > 0 || missing.Count > 0)
            {
                s.PrintDiagnostics(invalid.SelectMany(l => l.Diagnostics));
                s.Error($"{invalid.Count + missing.Count} of {files.Count + missing.Count} drill(s) invalid; none was run");
                return ExitCodes.Invalid;
            }

            if (parse.GetValue(pagerDuty) is not null && !parse.GetValue(live))
            {
                s.Error("--pagerduty-secret is for --live: a replay sends nothing");
                return ExitCodes.Invalid;
            }

            var results = new List<DrillResult>();
            if (parse.GetValue(live))
            {
                results.AddRange(await RunLiveAsync(s, loaded, parse.GetValue(pagerDuty) is { } reference ? SecretOptions.Resolve("--pagerduty-secret", reference) : null, ct).ConfigureAwait(false));
            }
            else
            {
                var runner = new DrillRunner(s.Actions);
                foreach (var drill in loaded)
                {
                    if (!s.Json && loaded.Count > 1)
                    {
                        s.Error($"drill {drill.Drill!.Name} ...");
                    }

                    results.Add(await runner.RunAsync(drill.Drill!, drill.Runbook!, ct).ConfigureAwait(false));
                }
            }

            if (parse.GetValue(svg) is { } charts)
            {
                Directory.CreateDirectory(charts);
                foreach (var (drill, result) in loaded.Zip(results))
                {
                    var chart = Path.Combine(charts, string.Concat(result.Drill.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')) + ".svg");
                    await File.WriteAllTextAsync(chart, DrillReports.Svg(result, drill.Drill!), ct).ConfigureAwait(false);
                    s.Error($"chart written to {chart}");
                }
            }

            var format = parse.GetValue(report) ?? (s.Json ? "json" : "text");
            var written = format switch
            {
                "md" => DrillReports.Markdown(results),
                "junit" => DrillReports.JUnit(results),
                "json" => null,
                _ => string.Concat(results.Select(DrillReports.Text)),
            };
            if (parse.GetValue(outFile) is { } path)
            {
                var text = written ?? System.Text.Json.JsonSerializer.SerializeToNode(results, CliSession.JsonOptions)!.ToJsonString(CliSession.JsonOptions);
                await File.WriteAllTextAsync(path, text, ct).ConfigureAwait(false);
                if (!s.Json)
                {
                    await s.Io.Out.WriteAsync(string.Concat(results.Select(DrillReports.Text))).ConfigureAwait(false);
                }

                s.Error($"report written to {path}");
            }
            else if (written is null)
            {
                s.WriteJson(results);
            }
            else
            {
                await s.Io.Out.WriteAsync(written).ConfigureAwait(false);
            }

            if (!s.Json && results.Count > 1)
            {
                s.Line($"{results.Count(r => r.Passed)} of {results.Count} drill(s) passed");
            }

            if (!parse.GetValue(noStore))
            {
                await StoreAsync(s, results, ct).ConfigureAwait(false);
            }

            return results.All(r => r.Passed) ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    /// <summary>Keeps each report where `runbook drill list` finds it; a store that cannot take them is said, not fatal: the verdict stands.</summary>
    private static async Task StoreAsync(CliSession s, IReadOnlyList<DrillResult> results, CancellationToken ct)
    {
        try
        {
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var ids = new List<long>();
            foreach (var result in results)
            {
                var report = System.Text.Json.JsonSerializer.SerializeToNode(result, CliSession.JsonOptions)!.AsObject();
                ids.Add((await service.SaveDrillReportAsync(report, result.Mode, s.Caller, ct).ConfigureAwait(false)).Id);
            }

            s.Error(ids.Count == 1
                ? $"report kept as drill report {ids[0]} in {service.Location} (runbook drill show {ids[0]})"
                : $"reports kept as drill reports {ids[0]} to {ids[^1]} in {service.Location} (runbook drill list)");
        }
        catch (Exception ex) when (ex is RunbookEngine.Runbooks.Service.RunbookServiceException or RunbookEngine.Workflows.WorkflowStoreException or CliException)
        {
            s.Error($"warning: the drill reports were not kept: {ex.Message} (--no-store runs drills without keeping them)");
        }
    }

    /// <summary>
    /// Runs drills live against the server (<c>--server</c>), or against a server of its own on 127.0.0.1 over the
    /// local store, with an embedded worker, that lives as long as the drills: the same webhook, the same API.
    /// </summary>
    private static async Task<IReadOnlyList<DrillResult>> RunLiveAsync(CliSession s, IReadOnlyList<LoadedDrill> loaded, string? pagerDutySecret, CancellationToken ct)
    {
        if (s.IsRemote)
        {
            var service = (RemoteRunbookService)await s.ServiceAsync(ct).ConfigureAwait(false);
            service.PagerDutySecret = pagerDutySecret;
            return await RunLiveOnAsync(s, service, loaded, ct).ConfigureAwait(false);
        }

        if (s.IsTemporal)
        {
            throw new CliException("a live drill on Temporal runs against a server: give --server URL (runbook serve --engine temporal) and an operator --token", ExitCodes.Invalid);
        }

        var directory = Path.Combine(Path.GetTempPath(), "runbook-live-drill", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            // A token for this process only, in the caller's name: what the drill does is recorded as theirs.
            var tokens = new RunbookEngine.Server.ApiTokenFile(Path.Combine(directory, "tokens.yaml"));
            var name = s.Actor.Contains(':', StringComparison.Ordinal) ? s.Actor[(s.Actor.IndexOf(':', StringComparison.Ordinal) + 1)..] : s.Actor;
            var token = tokens.Create(name, RunbookEngine.Server.ApiRole.Operator, s.Groups, TimeProvider.System.GetUtcNow());
            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            var options = new RunbookEngine.Server.RunbookServerOptions
            {
                Urls = ["http://127.0.0.1:0"],
                RunbookDirectories = [s.RunbooksDirectory],
                TokensFile = tokens.Path,
                EmbeddedWorker = true,
                Environment = s.Io.Environment,
                PagerDutySecrets = pagerDutySecret is null ? [] : [pagerDutySecret],
            };
            var app = RunbookEngine.Server.RunbookServer.Build(options, store, s.StoreName, s.Actions, s.Loggers);
            await using (app.ConfigureAwait(false))
            {
                await app.StartAsync(ct).ConfigureAwait(false);
                try
                {
                    using var remote = new RemoteRunbookService(app.Urls.First(), token) { PagerDutySecret = pagerDutySecret };
                    s.Error($"no --server: a server of the drill's own on {app.Urls.First()} over {s.StoreName}, with an embedded worker, until the drill ends");
                    return await RunLiveOnAsync(s, remote, loaded, ct).ConfigureAwait(false);
                }
                finally
                {
                    await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS's temp cleaner; the token was valid only for that server.
            }
        }
    }

    private static async Task<IReadOnlyList<DrillResult>> RunLiveOnAsync(CliSession s, RemoteRunbookService service, IReadOnlyList<LoadedDrill> loaded, CancellationToken ct)
    {
        var prometheusUrl = s.Io.Environment(RunbookEngine.Actions.PrometheusAction.UrlVariable);
        var problems = loaded.SelectMany(l => LiveDrillRunner.Problems(l.Drill!, prometheusUrl)).ToList();
        if (problems.Count > 0)
        {
            foreach (var p in problems)
            {
                s.Error(p);
            }

            throw new CliException($"{problems.Count} problem(s): nothing was sent", ExitCodes.Invalid);
        }

        using var prometheus = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var runner = new LiveDrillRunner(service, service.DeliverDrillAlertAsync, prometheus, s.Caller, TimeProvider.System, line => s.Error(line));
        var results = new List<DrillResult>();
        foreach (var drill in loaded)
        {
            var real = drill.Drill!.Live.Steps is { } steps ? $"only the actions of live.steps ({(steps.Count == 0 ? "none" : string.Join(", ", steps.Select(l => l.Step)))}) run for real" : "actions run for real";
            s.Error($"live drill {drill.Drill!.Name} on {service.Location}: alerts go to its webhook and {real} (Ctrl+C cancels the drill's runs)");
            results.Add(await runner.RunAsync(drill.Drill!, drill.Runbook!, prometheusUrl, ct).ConfigureAwait(false));
        }

        return results;
    }

    private static Command CreateList(Func<ParseResult, CliSession> session)
    {
        var drill = new Option<string?>("--drill") { Description = "Only this drill (its name)." };
        var runbookName = new Option<string?>("--runbook") { Description = "Only drills of this runbook." };
        var failed = new Option<bool>("--failed") { Description = "Only drills that failed." };
        var passed = new Option<bool>("--passed") { Description = "Only drills that passed." };
        var limit = new Option<int>("--limit") { Description = "The most listed, newest first (default 20).", DefaultValueFactory = _ => 20 };
        var command = new Command("list", """
            The drills run so far, newest first: when, which drill on which runbook, the verdict with the
            expectations that failed, how the run ended, MTTD and MTTR, who ran it. From the store, or from the
            server with --server. `runbook drill show ID` prints one report again.

            Examples: runbook drill list ; runbook drill list --failed --runbook disk-full-cleanup --output json
            """);
        command.Add(drill);
        command.Add(runbookName);
        command.Add(failed);
        command.Add(passed);
        command.Add(limit);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            if (parse.GetValue(failed) && parse.GetValue(passed))
            {
                throw new CliException("--failed and --passed together list nothing: give one", ExitCodes.Invalid);
            }

            bool? verdict = parse.GetValue(failed) ? false : parse.GetValue(passed) ? true : null;
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var reports = await service.ListDrillReportsAsync(parse.GetValue(drill), parse.GetValue(runbookName), verdict, parse.GetValue(limit), ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(reports);
            }
            else if (reports.Count == 0)
            {
                s.Line("no drill reports" + (verdict is null && parse.GetValue(drill) is null && parse.GetValue(runbookName) is null ? " yet: `runbook drill run drills/` runs the example drills and keeps their reports" : " match"));
            }
            else
            {
                static string Seconds(double? v) => v switch
                {
                    null => "-",
                    < 1 => $"{v * 1000:0}ms",
                    _ => RunbookEngine.Workflows.Durations.Format(TimeSpan.FromSeconds(Math.Round(v.Value))),
                };
                s.Table(
                    ["ID", "RAN", "DRILL", "RUNBOOK", "VERDICT", "RUN", "MTTD", "MTTR", "BY", "MODE"],
                    reports.Select(r => (IReadOnlyList<string?>)[
                        r.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        CliSession.Time(r.At),
                        r.Drill,
                        r.Runbook,
                        r.Passed ? "passed" : $"FAILED ({string.Join(", ", r.Failed)})",
                        r.Status ?? "-",
                        Seconds(r.MttdSeconds),
                        Seconds(r.MttrSeconds),
                        r.By,
                        r.Mode]));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreateShow(Func<ParseResult, CliSession> session)
    {
        var id = new Argument<long>("id") { Description = "The report's id, as `runbook drill list` shows it." };
        var report = new Option<string?>("--report") { Description = "Format: text (default), md, json, junit." };
        report.AcceptOnlyFromAmong(Formats);
        var command = new Command("show", """
            Print a kept drill report again, as `runbook drill run` printed it: text, md (for a postmortem),
            json, or junit.

            Examples: runbook drill show 12 ; runbook drill show 12 --report md > postmortem-drill.md
            """);
        command.Add(id);
        command.Add(report);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var kept = await service.GetDrillReportAsync(parse.GetValue(id), ct).ConfigureAwait(false);
            var format = parse.GetValue(report) ?? (s.Json ? "json" : "text");
            if (format == "json")
            {
                s.WriteJson(kept);
                return ExitCodes.Ok;
            }

            DrillResult? result;
            try
            {
                result = System.Text.Json.JsonSerializer.Deserialize<DrillResult>(kept.Report, CliSession.JsonOptions);
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new CliException($"drill report {kept.Id} cannot be shown as {format}: {ex.Message}; --report json prints it as kept", ExitCodes.Failed);
            }

            if (result is null)
            {
                throw new CliException($"drill report {kept.Id} is empty", ExitCodes.Failed);
            }

            await s.Io.Out.WriteAsync(format switch
            {
                "md" => DrillReports.Markdown([result]),
                "junit" => DrillReports.JUnit([result]),
                _ => $"drill report {kept.Id}, run {CliSession.Time(kept.At)} by {kept.By} ({kept.Mode}):\n" + DrillReports.Text(result),
            }).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }
}
