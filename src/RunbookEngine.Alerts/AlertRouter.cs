using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Alerts;

/// <summary>What happened to one alert for one runbook trigger (or to an alert no trigger matched).</summary>
/// <param name="Alert">The alert's name.</param>
/// <param name="Fingerprint">The alert's fingerprint.</param>
/// <param name="Status">firing or resolved.</param>
/// <param name="Outcome">started, blocked (a guard refused the run, which is stored with the reason), attached (a repeat of a firing alert), resolved (recorded in the run), cancelled, no_run, unmatched or invalid.</param>
/// <param name="Runbook">The runbook, when a trigger matched.</param>
/// <param name="RunId">The run started or attached to.</param>
/// <param name="Reason">Why, for invalid and blocked.</param>
public sealed record AlertOutcome(
    [property: JsonPropertyName("alert")] string Alert,
    [property: JsonPropertyName("fingerprint")] string Fingerprint,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("runbook")] string? Runbook = null,
    [property: JsonPropertyName("run_id")] string? RunId = null,
    [property: JsonPropertyName("reason")] string? Reason = null);

/// <summary>
/// Routes alerts to the runbooks whose <c>triggers:</c> match them. One firing episode of an alert
/// (fingerprint and start time) starts at most one run per runbook: the idempotency key makes repeated
/// notifications, retries after a crash and concurrent deliveries attach to that run instead.
/// </summary>
public sealed class AlertRouter
{
    private readonly LocalRunbookService service;
    private readonly IJournalStore journal;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    /// <summary>Initializes a new instance of the <see cref="AlertRouter"/> class.</summary>
    /// <param name="service">The runbook service (its runbook directories hold the triggers).</param>
    /// <param name="logger">The log.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <remarks>Runs are started, read and annotated through the service's <see cref="LocalRunbookService.Client"/>, whichever engine it is.</remarks>
    public AlertRouter(LocalRunbookService service, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(logger);
        this.service = service;
        journal = service.Journal;
        this.logger = logger;
        time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The idempotency key of a runbook's run for an alert's firing episode.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="alert">The alert.</param>
    /// <returns>The key.</returns>
    public static string Key(string runbook, Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return $"alert:{alert.Source}:{runbook}:{alert.Episode}";
    }

    /// <summary>The webhook request header that marks a notification as a live game-day drill's (its value: the drill's name).</summary>
    public const string DrillHeader = "X-Runbook-Drill";

    /// <summary>Routes the alerts of one notification; every run it starts is stored before this returns.</summary>
    /// <param name="alerts">The alerts.</param>
    /// <param name="payload">The notification as received, kept in each started run's timeline.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="drill">The game-day drill the notification belongs to (<c>runbook drill run --live</c>), or null: the runs it starts are marked as that drill's.</param>
    /// <returns>One outcome per alert and matching trigger (or per unmatched alert).</returns>
    public async Task<IReadOnlyList<AlertOutcome>> RouteAsync(IReadOnlyList<Alert> alerts, JsonNode? payload, CancellationToken cancellationToken, string? drill = null)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        var runbooks = service.LoadRunbooks().Where(e => e.Runbook is { Triggers.Count: > 0 }).ToList();
        var outcomes = new List<AlertOutcome>();
        var of = new List<Alert>(); // the alert of each outcome
        foreach (var alert in alerts)
        {
            var matched = false;
            foreach (var entry in runbooks)
            {
                // The first matching trigger of a runbook decides for it: one run per runbook and episode.
                var trigger = entry.Runbook!.Triggers.FirstOrDefault(t => (t.Source is null || t.Source == alert.Source) && t.Match.All(m => m.Matches(alert.Labels)));
                if (trigger is null)
                {
                    continue;
                }

                matched = true;
                of.Add(alert);
                outcomes.Add(alert.Firing
                    ? await FireAsync(entry, trigger, alert, payload, drill, cancellationToken).ConfigureAwait(false)
                    : await ResolveAsync(entry.Runbook, trigger, alert, cancellationToken).ConfigureAwait(false));
            }

            if (!matched)
            {
                logger.LogInformation("alert {Alert} ({Fingerprint}, {Status}) from {Source} matches no runbook trigger", alert.Name, alert.Fingerprint, alert.Status, alert.Source);
                of.Add(alert);
                outcomes.Add(new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "unmatched"));
            }
        }

        // What started no run is kept too, in the same durable store and before the 202: nothing accepted is lost.
        var unrouted = outcomes.Zip(of).Where(x => LocalRunbookService.UnroutedOutcomes.Contains(x.First.Outcome)).ToList();
        if (unrouted.Count > 0)
        {
            var now = time.GetUtcNow();
            await journal.AppendJournalAsync(
                [.. unrouted.Select(x => new NewJournalEntry(now, x.Second.Source, x.First.Outcome, x.First.Alert, new JsonObject
                {
                    ["alert"] = x.Second.ToJson(),
                    ["runbook"] = x.First.Runbook,
                    ["reason"] = x.First.Reason,
                }.ToJsonString(WorkflowJson.Options)))],
                cancellationToken).ConfigureAwait(false);
        }

        return outcomes;
    }

    private static string Actor(Alert alert) => $"alert:{alert.Source}/{alert.Name}";

    private async Task<AlertOutcome> FireAsync(RunbookEntry entry, TriggerSpec trigger, Alert alert, JsonNode? payload, string? drill, CancellationToken ct)
    {
        var runbook = entry.Runbook!;
        var (rendered, problem) = TriggerInputs.Render(trigger, alert.ToExpressionValues());
        IReadOnlyList<RunbookDiagnostic> problems = [];
        JsonObject bound = [];
        if (rendered is not null)
        {
            (bound, problems) = InputBinder.Bind(runbook, rendered);
        }

        var reason = problem ?? (problems.Count > 0 ? string.Join("; ", problems.Select(p => p.Message)) : null);
        if (reason is not null)
        {
            logger.LogWarning("alert {Alert} ({Fingerprint}) matched {Runbook} at {Location} but its inputs are invalid: {Reason}", alert.Name, alert.Fingerprint, runbook.Name, trigger.Location, reason);
            return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "invalid", runbook.Name, Reason: $"{trigger.Location}: the trigger's inputs from this alert are invalid: {reason}");
        }

        var created = new JsonObject
        {
            ["trigger"] = new JsonObject
            {
                ["source"] = alert.Source,
                ["at"] = trigger.Location.ToString(),
                ["mode"] = trigger.Mode switch { TriggerMode.DryRun => "dry-run", TriggerMode.Approval => "approval", _ => "live" },
                ["matchers"] = new JsonArray([.. trigger.Match.Select(m => JsonValue.Create(m.ToString()))]),
                ["alert"] = alert.ToJson(),
                ["payload"] = payload?.DeepClone(),
            },
        };
        if (drill is not null)
        {
            created["drill"] = drill;
        }

        var started = await service.StartRunbookAsync(entry, bound, trigger.Mode == TriggerMode.DryRun, Key(runbook.Name, alert), Actor(alert), created, ct, RunGate.For(trigger)).ConfigureAwait(false);
        if (started.Created && started.Run.Status == "blocked")
        {
            logger.LogWarning("alert {Alert} ({Fingerprint}) matched {Runbook}, but a guard blocked run {RunId}: {Reason}", alert.Name, alert.Fingerprint, runbook.Name, started.Run.RunId, started.Run.Error);
            return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "blocked", runbook.Name, started.Run.RunId, Reason: started.Run.Error);
        }

        if (started.Created)
        {
            logger.LogInformation("alert {Alert} ({Fingerprint}) started {Runbook} run {RunId}", alert.Name, alert.Fingerprint, runbook.Name, started.Run.RunId);
            return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "started", runbook.Name, started.Run.RunId);
        }

        await service.Client.AnnotateAsync(started.Run.RunId, new NewTimelineEvent(time.GetUtcNow(), Actor(alert), "alert.repeated", new JsonObject { ["alert"] = alert.ToJson() }.ToJsonString(WorkflowJson.Options)), ct).ConfigureAwait(false);
        return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "attached", runbook.Name, started.Run.RunId);
    }

    private async Task<AlertOutcome> ResolveAsync(Runbook runbook, TriggerSpec trigger, Alert alert, CancellationToken ct)
    {
        var run = (await service.Client.ListRunsAsync(new RunQuery { IdempotencyKey = Key(runbook.Name, alert), Limit = 1 }, ct).ConfigureAwait(false)).FirstOrDefault();
        if (run is null)
        {
            return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "no_run", runbook.Name);
        }

        var waitingForApproval = run.Status == RunStatus.Waiting && ApprovalRules.Pending(await service.Client.GetHistoryAsync(run.RunId, ct).ConfigureAwait(false)) is not null;
        var cancel = trigger.CancelOnResolved && waitingForApproval;
        var data = new JsonObject { ["alert"] = alert.ToJson(), ["run_status"] = run.Status.ToStoredName(), ["action"] = cancel ? "cancel" : "record" };
        await service.Client.AnnotateAsync(run.RunId, new NewTimelineEvent(time.GetUtcNow(), Actor(alert), "alert.resolved", data.ToJsonString(WorkflowJson.Options)), ct).ConfigureAwait(false);
        if (!cancel)
        {
            return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "resolved", runbook.Name, run.RunId);
        }

        await service.Client.CancelAsync(run.RunId, Actor(alert), "the alert resolved while the run waited for approval (on_resolved: cancel)", ct).ConfigureAwait(false);
        return new AlertOutcome(alert.Name, alert.Fingerprint, alert.Status, "cancelled", runbook.Name, run.RunId);
    }
}
