using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Alerts;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills;

/// <summary>
/// Runs a drill as a live game day against a running server: its alerts go through the server's real webhook
/// (marked as the drill's, so the runs they start are never counted as incidents), its actions run for real,
/// its stop conditions are asked of Prometheus while it runs (a breach cancels the run), and MTTD and MTTR are
/// measured on the wall clock.
/// </summary>
public sealed class LiveDrillRunner
{
    private readonly IRunbookService service;
    private readonly Func<string, JsonObject, string, CancellationToken, Task<JsonNode?>> deliver;
    private readonly HttpClient prometheus;
    private readonly Caller caller;
    private readonly TimeProvider time;
    private readonly Action<string> progress;

    /// <summary>Initializes a new instance of the <see cref="LiveDrillRunner"/> class.</summary>
    /// <param name="service">The server's runbook operations (runs, timelines, cancel).</param>
    /// <param name="deliver">Posts a notification (source, payload, drill name) to the server's <c>/hooks/SOURCE</c> marked with the drill's name (header <see cref="AlertRouter.DrillHeader"/>); returns the server's answer.</param>
    /// <param name="prometheus">Asks Prometheus the stop conditions (absolute URLs).</param>
    /// <param name="caller">Who runs the drill (recorded as the canceller on a breach).</param>
    /// <param name="time">The clock.</param>
    /// <param name="progress">Says what happens as it happens.</param>
    public LiveDrillRunner(IRunbookService service, Func<string, JsonObject, string, CancellationToken, Task<JsonNode?>> deliver, HttpClient prometheus, Caller caller, TimeProvider time, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(deliver);
        ArgumentNullException.ThrowIfNull(prometheus);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(progress);
        this.service = service;
        this.deliver = deliver;
        this.prometheus = prometheus;
        this.caller = caller;
        this.time = time;
        this.progress = progress;
    }

    /// <summary>Why a drill cannot run live: an alert its source's notification cannot carry whole, stop conditions without a Prometheus.</summary>
    /// <param name="drill">The drill.</param>
    /// <param name="prometheusUrl">The Prometheus from the environment (<c>RUNBOOK_PROMETHEUS_URL</c>), or null.</param>
    /// <returns>The problems, each at its line.</returns>
    public static IReadOnlyList<string> Problems(Drill drill, string? prometheusUrl)
    {
        ArgumentNullException.ThrowIfNull(drill);
        var problems = new List<string>();
        foreach (var alert in drill.Alerts)
        {
            problems.AddRange(DrillDelivery.Problems(drill.Name, alert));
        }

        if (drill.Live.StopConditions.Count > 0 && drill.Live.Prometheus is null && string.IsNullOrEmpty(prometheusUrl))
        {
            problems.Add($"{drill.Live.StopConditions[0].At}: stop conditions need a Prometheus: set live.prometheus or RUNBOOK_PROMETHEUS_URL");
        }

        return problems;
    }

    /// <summary>Runs the drill live.</summary>
    /// <param name="drill">The drill; <see cref="Problems"/> must have found none.</param>
    /// <param name="runbook">The runbook it exercises (as the server has it: its name is what runs).</param>
    /// <param name="prometheusUrl">The Prometheus from the environment, used when the drill names none.</param>
    /// <param name="cancellationToken">Cancellation (Ctrl+C): the drill's runs are cancelled before it returns.</param>
    /// <returns>What happened and which expectations held.</returns>
    public async Task<DrillResult> RunAsync(Drill drill, RunbookEntry runbook, string? prometheusUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(drill);
        ArgumentNullException.ThrowIfNull(runbook);
        var live = new Live(this, drill, runbook, drill.Live.Prometheus ?? prometheusUrl?.TrimEnd('/'));
        return await live.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One live drill: its schedule, the runs it started, what the stop conditions said.</summary>
    private sealed class Live(LiveDrillRunner owner, Drill drill, RunbookEntry entry, string? prometheusUrl)
    {
        private readonly List<(TimeSpan At, string What, Func<CancellationToken, Task> Send)> pending = [];
        private readonly List<string> runs = [];
        private readonly List<string> alertLines = [];
        private readonly List<string> notificationOutcomes = [];
        private readonly List<string> notes = [];
        private readonly List<DrillCheck> stopChecks = [];
        private readonly long wallStart = owner.time.GetTimestamp();
        private DateTimeOffset start;
        private string? firstOutcome;
        private string? breached;

        private TimeSpan Now => owner.time.GetUtcNow() - start;

        public async Task<DrillResult> RunAsync(CancellationToken ct)
        {
            start = owner.time.GetUtcNow();
            if (await StopConditionAsync(ct).ConfigureAwait(false) is { } before)
            {
                // A game day does not start into a breach, or blind.
                breached = before;
                notes.Add($"the drill did not start: {before}; nothing was sent");
                return await ResultAsync(timedOut: false, ct).ConfigureAwait(false);
            }

            Schedule();
            var last = pending.Count == 0 ? TimeSpan.Zero : pending.Max(p => p.At);
            var timedOut = false;
            var registered = false;
            try
            {
                // Registered before anything is sent: a run of this drill then answers the steps not live, and
                // undoes its steps when it is cancelled (a breach rolls back, as FIS stop conditions do).
                await owner.service.RegisterLiveDrillAsync(drill.Name, Script(drill), last + drill.Live.Timeout + TimeSpan.FromMinutes(10), owner.caller, ct).ConfigureAwait(false);
                registered = true;
                if (drill.Live.Steps is { } liveSteps)
                {
                    owner.progress($"{DrillScenario.Format(Now)} live steps: {(liveSteps.Count == 0 ? "none" : string.Join(", ", liveSteps.Select(s => s.Step)))}; every other step is answered from the scenario");
                }

                while (true)
                {
                    foreach (var due in pending.Where(p => p.At <= Now).ToList())
                    {
                        pending.Remove(due);
                        await due.Send(ct).ConfigureAwait(false);
                    }

                    if (breached is null && await StopConditionAsync(ct).ConfigureAwait(false) is { } reason)
                    {
                        breached = reason;
                        pending.Clear(); // nothing more is sent into a breach
                        owner.progress($"{DrillScenario.Format(Now)} stop condition: {reason}; cancelling the drill's runs");
                        await CancelAllAsync($"drill {drill.Name} stopped: {reason}", ct).ConfigureAwait(false);
                    }

                    if (pending.Count == 0 && await AllEndedAsync(ct).ConfigureAwait(false))
                    {
                        break;
                    }

                    if (Now > last + drill.Live.Timeout)
                    {
                        timedOut = true;
                        notes.Add($"the run did not end within live.timeout ({Durations.Format(drill.Live.Timeout)}) after the last alert; it was cancelled");
                        await CancelAllAsync($"drill {drill.Name} timed out after {Durations.Format(drill.Live.Timeout)}", ct).ConfigureAwait(false);
                        break;
                    }

                    var wait = drill.Live.Poll;
                    if (pending.Count > 0 && pending.Min(p => p.At) - Now is var untilNext && untilNext < wait)
                    {
                        wait = untilNext < TimeSpan.Zero ? TimeSpan.Zero : untilNext;
                    }

                    await Task.Delay(wait, owner.time, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Interrupted (Ctrl+C): a live game day leaves nothing running behind it.
                await CancelAllAsync($"drill {drill.Name} interrupted", CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            finally
            {
                if (registered)
                {
                    try
                    {
                        await owner.service.EndLiveDrillAsync(drill.Name, owner.caller, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (RunbookServiceException ex)
                    {
                        // Its expiry ends it anyway; only runs of this drill ever read it.
                        notes.Add($"the drill's answers could not be withdrawn from the server ({ex.Message}); they expire by themselves");
                    }
                }
            }

            return await ResultAsync(timedOut, ct).ConfigureAwait(false);
        }

        private void Schedule()
        {
            if (drill.Run is { } run)
            {
                pending.Add((run.At, "start", async ct =>
                {
                    var inputs = run.Inputs.ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var text) ? text : kv.Value?.ToJsonString() ?? string.Empty, StringComparer.Ordinal);
                    var started = await owner.service.StartAsync(new StartRequest { Runbook = entry.Runbook!.Name, Inputs = inputs, DryRun = run.DryRun, Drill = drill.Name }, owner.caller, ct).ConfigureAwait(false);
                    runs.Add(started.Run.RunId);
                    owner.progress($"{DrillScenario.Format(Now)} started run {started.Run.RunId} of {entry.Runbook.Name}");
                }));
            }

            foreach (var alert in drill.Alerts)
            {
                // The drill's own label (a PagerDuty incident: its id) keeps its episode apart from a real one.
                Alert Make(string status, TimeSpan? ends) => DrillDelivery.Make(drill.Name, alert, start, status, ends);
                pending.Add((alert.Received, $"{alert.Name} fires", ct => SendAsync(Make("firing", null), "fires", ct)));
                foreach (var repeat in alert.Repeats)
                {
                    pending.Add((repeat, $"{alert.Name} repeats", ct => SendAsync(Make("firing", null), "repeats", ct)));
                }

                if (alert.Resolved is { } resolved)
                {
                    pending.Add((resolved, $"{alert.Name} resolves", ct => SendAsync(Make("resolved", resolved), "resolves", ct)));
                }
            }
        }

        private async Task SendAsync(Alert alert, string what, CancellationToken ct)
        {
            var answer = await owner.deliver(alert.Source, DrillDelivery.Payload(alert, owner.time.GetUtcNow()), drill.Name, ct).ConfigureAwait(false);
            foreach (var outcome in answer?["outcomes"]?.AsArray() ?? [])
            {
                var o = outcome?["outcome"]?.GetValue<string>() ?? "?";
                var runId = outcome?["run_id"]?.GetValue<string>();
                firstOutcome ??= o;
                notificationOutcomes.Add(o);
                var line = $"{DrillScenario.Format(Now)} {alert.Name} {what}: {o}{(outcome?["runbook"] is { } rb ? $" ({rb})" : string.Empty)}{(runId is null ? string.Empty : $" run {runId}")}{(outcome?["reason"] is { } r ? $": {r}" : string.Empty)}";
                alertLines.Add(line);
                owner.progress(line);
                if (runId is not null && !runs.Contains(runId))
                {
                    runs.Add(runId);
                }
            }
        }

        /// <summary>The first stop condition that holds (or cannot be checked), or null.</summary>
        private async Task<string?> StopConditionAsync(CancellationToken ct)
        {
            foreach (var condition in drill.Live.StopConditions)
            {
                var url = $"{prometheusUrl}/api/v1/query?query={Uri.EscapeDataString(condition.PromQL)}";
                JsonNode? answer;
                try
                {
                    using var response = await owner.prometheus.GetAsync(new Uri(url), ct).ConfigureAwait(false);
                    answer = await response.Content.ReadFromJsonAsync<JsonNode>(ct).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode || answer?["status"]?.GetValue<string>() != "success")
                    {
                        return Fail(condition, $"Prometheus refused '{condition.PromQL}': {answer?["error"]?.GetValue<string>() ?? ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    // A game day that cannot see its stop conditions stops.
                    return Fail(condition, $"cannot ask Prometheus at {prometheusUrl}: {ex.Message}");
                }

                var data = answer?["data"];
                var result = data?["result"];
                var holds = data?["resultType"]?.GetValue<string>() is "scalar" or "string"
                    ? result is JsonArray pair && pair.Count == 2 && pair[1]?.GetValue<string>() is { } v && v != "0"
                    : result is JsonArray series && series.Count > 0;
                if (holds)
                {
                    var value = result is JsonArray { Count: > 0 } rs && rs[0]?["value"] is JsonArray sample && sample.Count == 2 ? $" (value {sample[1]})" : string.Empty;
                    return Fail(condition, $"'{condition.Name}' holds{value}");
                }
            }

            return null;

            string Fail(DrillStopCondition condition, string why)
            {
                stopChecks.Add(new($"stop condition: {condition.Name}", false, "never holds while the drill runs", $"{why} at {DrillScenario.Format(Now)}", condition.At.ToString()));
                return why;
            }
        }

        private async Task CancelAllAsync(string reason, CancellationToken ct)
        {
            foreach (var runId in runs)
            {
                try
                {
                    var run = await owner.service.GetRunAsync(runId, ct).ConfigureAwait(false);
                    if (!run.IsTerminal)
                    {
                        var cancelled = await owner.service.CancelAsync(runId, reason, owner.caller, ct).ConfigureAwait(false);
                        owner.progress($"{DrillScenario.Format(Now)} run {runId}: cancel {cancelled.Outcome}");
                    }
                }
                catch (RunbookServiceException ex)
                {
                    notes.Add($"run {runId} could not be cancelled: {ex.Message}");
                }
            }

            // Wait (bounded) for the cancellations to take effect, so the report shows how the runs ended.
            for (var i = 0; i < 60 && !await AllEndedAsync(ct).ConfigureAwait(false); i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), owner.time, ct).ConfigureAwait(false);
            }
        }

        private async Task<bool> AllEndedAsync(CancellationToken ct)
        {
            foreach (var runId in runs)
            {
                if (!(await owner.service.GetRunAsync(runId, ct).ConfigureAwait(false)).IsTerminal)
                {
                    return false;
                }
            }

            return true;
        }

        private async Task<DrillResult> ResultAsync(bool timedOut, CancellationToken ct)
        {
            var runbook = entry.Runbook!;
            RunView? run = runs.Count == 0 ? null : await owner.service.GetRunAsync(runs[0], ct).ConfigureAwait(false);
            var events = run is null ? [] : (await owner.service.GetTimelineAsync(run.RunId, 0, ct).ConfigureAwait(false)).Events
                .Select(e => new DrillEvent(e.Seq, e.At - start, e.Actor, e.Kind, e.Data)).ToList();
            var (stepsRun, stepsSkipped) = DrillChecks.Steps(runbook, events);
            var checks = new List<DrillCheck>();
            checks.AddRange(DrillChecks.OfRun(drill, run, events, stepsRun, stepsSkipped, firstOutcome, notificationOutcomes));
            foreach (var (step, count, at) in drill.Expect.Attempts)
            {
                var attempts = events.Where(e => e.Kind == "step.started" && e.Step == step).ToList();
                checks.Add(new($"attempts: {step}", attempts.Count == count, $"{count} call(s) of its action", $"{attempts.Count} attempt(s)", at.ToString()));
            }

            var fired = drill.Alerts.Count == 0 ? (TimeSpan?)null : drill.Alerts[0].Fired;
            TimeSpan? mttd = fired is { } f && run is not null ? run.CreatedAt - (start + f) : null;
            var (recoveredAt, recoveredBy) = DrillChecks.Recovery(run, events, start, drill.Alerts.Count > 0 ? drill.Alerts[0].Resolved : null);
            TimeSpan? mttr = fired is { } f2 && recoveredAt is { } r ? r - f2 : null;
            checks.AddRange(DrillChecks.OfTimes(drill, fired is not null, mttd, mttr, recoveredBy));
            checks.AddRange(stopChecks.Take(1));
            if (drill.Live.StopConditions.Count > 0 && stopChecks.Count == 0)
            {
                checks.Add(new("stop conditions", true, "none holds while the drill runs", $"{drill.Live.StopConditions.Count} condition(s) checked every {Durations.Format(drill.Live.Poll)}, none held"));
            }

            if (run is not null)
            {
                checks.Add(new("run ended", run.IsTerminal && !timedOut, "the run ends within live.timeout", run.IsTerminal ? $"{run.Status} at {DrillScenario.Format((run.CompletedAt ?? run.CreatedAt) - start)}" : $"still {run.Status}"));
            }
            else if (breached is null)
            {
                checks.Add(new("run started", false, "the drill starts a run", firstOutcome is null ? "no alert or start was sent" : $"the first alert was {firstOutcome}"));
            }

            if (drill.Live.Steps is { } liveSteps)
            {
                notes.Add(liveSteps.Count == 0
                    ? "live: no action ran for real (live.steps is empty); every step was answered from the scenario"
                    : $"live: the actions of {string.Join(", ", liveSteps.Select(l => l.Step))} ran for real; every other step was answered from the scenario");
            }
            else if (drill.Steps.Count > 0 || drill.Actions.Count > 0)
            {
                notes.Add("live: every action ran for real; the answers in steps: and actions: are for replays (live.steps runs only some for real)");
            }

            if (drill.Approvals.Count > 0)
            {
                notes.Add("live: approvals are decided by people (runbook approve); the drill's approvals: are for replays");
            }

            if (drill.Faults.Count > 0)
            {
                notes.Add("live: faults: are injected in replays only");
            }

            if (drill.Expect.Calls is not null)
            {
                notes.Add("live: calls are checked in replays only");
            }

            return new DrillResult
            {
                Drill = drill.Name,
                File = drill.File,
                Runbook = runbook.Name,
                RunbookFile = entry.File,
                Mode = "live",
                Checks = checks,
                Alerts = alertLines,
                Status = run?.Status,
                ErrorKind = run?.ErrorKind,
                Error = run?.Error,
                Output = run?.Output,
                Mttd = mttd,
                Mttr = mttr,
                RecoveredBy = recoveredBy,
                StepsRun = stepsRun,
                StepsSkipped = stepsSkipped,
                Timeline = events,
                Notes = notes,
                VirtualDuration = Now,
                ElapsedMilliseconds = owner.time.GetElapsedTime(wallStart).TotalMilliseconds,
            };
        }
    }

    /// <summary>
    /// The answers a run of a drill that marks only some steps live gives for the others (the run input's
    /// <c>drill_script</c>, read by the interpreter): the drill's <c>steps:</c> and <c>actions:</c> answers.
    /// </summary>
    /// <param name="drill">The drill.</param>
    /// <returns>The script.</returns>
    public static JsonObject Script(Drill drill)
    {
        ArgumentNullException.ThrowIfNull(drill);
        static JsonArray? Answers(DrillAnswers? answers) => answers is null ? null : new JsonArray([.. answers.Items.Select(a =>
        {
            var o = new JsonObject { ["times"] = a.Times };
            if (a.Latency > TimeSpan.Zero)
            {
                o["latency_ms"] = (long)a.Latency.TotalMilliseconds;
            }

            if (a.Hang)
            {
                o["hang"] = true;
            }
            else if (a.ErrorKind is not null)
            {
                o["fail"] = a.ErrorKind;
                o["message"] = a.Message;
                o["non_retryable"] = a.NonRetryable;
            }
            else
            {
                o["respond"] = a.Result?.DeepClone() ?? new JsonObject();
            }

            return (JsonNode)o;
        })]);
        var steps = new JsonObject();
        foreach (var (id, script) in drill.Steps)
        {
            steps[id] = new JsonObject { ["action"] = Answers(script.Calls), ["verify"] = Answers(script.Verify), ["compensate"] = Answers(script.Compensate) };
        }

        return new JsonObject
        {
            ["live"] = new JsonArray([.. (drill.Live.Steps ?? []).Select(l => (JsonNode)JsonValue.Create(l.Step))]),
            ["all_live"] = drill.Live.Steps is null,
            ["compensate_on_cancel"] = true,
            ["steps"] = steps,
            ["actions"] = new JsonObject([.. drill.Actions.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Answers(kv.Value)))]),
        };
    }
}
