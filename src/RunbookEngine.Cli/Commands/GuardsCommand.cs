using System.CommandLine;
using System.Globalization;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook guards</c> and <c>runbook guards reset KEY</c>.</summary>
internal static class GuardsCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var runbook = new Option<string?>("--runbook") { Description = "Only this runbook's guards." };
        var command = new Command("guards", """
            Show every guard key: its circuit breaker (closed, open until when, half-open), its live runs, its
            cooldown and its rate window. A key is the runbook's name and, when its guards declare a target,
            the target: restart-service/web-1. The state lives in the store, so every worker and server sharing
            it sees the same breaker.

            Example: runbook guards --runbook restart-service
            """);
        command.Add(runbook);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var guards = await service.ListGuardsAsync(parse.GetValue(runbook), ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(guards);
            }
            else if (guards.Count == 0)
            {
                s.Line("no guards yet (a runbook with 'guards:' gets one per target at its first run)");
            }
            else
            {
                s.Table(["KEY", "BREAKER", "LIVE", "COOLDOWN", "RATE", "LAST RESET"], guards.Select(g => (IReadOnlyList<string?>)[g.Key, Breaker(g), Live(g), Cooldown(g), Rate(g), Reset(g)]));
            }

            return ExitCodes.Ok;
        });
        command.Add(CreateReset(session));
        return command;
    }

    private static Command CreateReset(Func<ParseResult, CliSession> session)
    {
        var key = new Argument<string>("key") { Description = "The guard key, as `runbook guards` lists it." };
        var reason = new Option<string>("--reason", "-m") { Description = "Why (required); recorded with who reset it.", Required = true };
        var command = new Command("reset", """
            Reset a guard: close its circuit breaker, end its cooldown and forget the runs it counted, so the next
            run of the target starts. Live runs still count. The reset is recorded with who asked and why.
            Against a server this needs an approver or admin token.

            Example: runbook guards reset restart-service/web-1 --reason "disk replaced, INC-4711"
            """);
        command.Add(key);
        command.Add(reason);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var g = await service.ResetGuardAsync(parse.GetValue(key)!, parse.GetValue(reason)!, s.Caller, ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(g);
            }
            else
            {
                s.Line($"guard {g.Key} reset by {g.LastReset?.By}: breaker {Breaker(g)}, live {Live(g)}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Breaker(GuardView g) => !g.Declared ? "(runbook has no guards now)" : g.Breaker switch
    {
        "open" => $"open until {CliSession.Time(g.OpenUntil!.Value)}",
        "half-open" => g.TrialRun is { } t ? $"half-open (trial {t})" : "half-open (next run is the trial)",
        "closed" => g.RecentFailures > 0 ? $"closed ({g.RecentFailures} recent failure{(g.RecentFailures == 1 ? string.Empty : "s")})" : "closed",
        _ => "-",
    };

    private static string Live(GuardView g) =>
        g.LiveRuns.Count.ToString(CultureInfo.InvariantCulture) + (g.MaxLive > 0 ? $"/{g.MaxLive}" : string.Empty);

    private static string Cooldown(GuardView g) => g.CooldownUntil is { } c ? $"until {CliSession.Time(c)}" : "-";

    private static string Rate(GuardView g) => g.RateMax is { } max ? $"{g.RecentRuns}/{max}" : "-";

    private static string Reset(GuardView g) => g.LastReset is { } r ? $"{CliSession.Time(r.At)} {r.By}: {r.Reason}" : "-";
}
