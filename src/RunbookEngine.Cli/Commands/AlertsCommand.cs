using System.CommandLine;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook alerts</c>: accepted alerts that started no run.</summary>
internal static class AlertsCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var outcome = new Option<string?>("--outcome") { Description = "Only unmatched (no trigger matched), invalid (a trigger matched but its inputs from the alert were invalid) or no_run (resolved, but no run was started for it)." };
        outcome.AcceptOnlyFromAmong([.. LocalRunbookService.UnroutedOutcomes]);
        var source = new Option<string?>("--source") { Description = "Only this source (alertmanager, grafana, pagerduty, azure-monitor, or a generic webhook's name)." };
        var limit = new Option<int>("--limit", "-n") { Description = "How many, newest first (default 50).", DefaultValueFactory = _ => 50 };
        var command = new Command("alerts", """
            Show alerts the server accepted that started no run: no trigger matched them, a trigger matched but
            the inputs it maps from the alert were invalid (the reason says which and where), or they resolved with
            no run to record it in. Alerts that started or attached to a run are in that run's timeline instead.
            Use it to find out why an alert did not trigger a runbook.

            Example: runbook alerts --outcome invalid --server http://127.0.0.1:8080
            """);
        command.Add(outcome);
        command.Add(source);
        command.Add(limit);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var alerts = await service.ListAlertsAsync(parse.GetValue(outcome), parse.GetValue(source), parse.GetValue(limit), ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(alerts);
            }
            else if (alerts.Count == 0)
            {
                s.Line("no alerts without a run");
            }
            else
            {
                s.Table(
                    ["RECEIVED", "SOURCE", "OUTCOME", "ALERT", "STATUS", "FINGERPRINT", "RUNBOOK", "REASON"],
                    alerts.Select(a => (IReadOnlyList<string?>)[CliSession.Time(a.At), a.Source, a.Outcome, a.Alert, a.Status, a.Fingerprint, a.Runbook, a.Reason]));
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
