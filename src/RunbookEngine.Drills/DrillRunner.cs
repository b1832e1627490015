using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Alerts;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Drills;

/// <summary>
/// Replays a drill on virtual time through the real engine: the alert router, guards, the interpreter, retries,
/// timeouts and approvals on a throwaway SQLite store, with every action answered from the scenario.
/// </summary>
public sealed partial class DrillRunner
{
    private readonly ActionCatalog actions;

    /// <summary>Initializes a new instance of the <see cref="DrillRunner"/> class.</summary>
    /// <param name="actions">The actions runbooks may name (their parameters and side-effect classes are used; their code never runs).</param>
    public DrillRunner(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        this.actions = actions;
    }

    /// <summary>Finds the runbook a drill replays: <paramref name="overridePath"/>, else the drill's <c>runbook:</c> as a path beside the drill, else as a name in the runbook directories.</summary>
    /// <param name="drill">The drill.</param>
    /// <param name="drillFile">The drill file's path on disk.</param>
    /// <param name="overridePath">A runbook file to replay instead (<c>--runbook</c>), or null.</param>
    /// <param name="runbookDirectories">Where runbooks are found by name.</param>
    /// <returns>The runbook's entry (possibly invalid), or a problem at the drill's <c>runbook:</c>.</returns>
    public (RunbookEntry? Entry, RunbookDiagnostic? Problem) FindRunbook(Drill drill, string drillFile, string? overridePath, IReadOnlyList<string> runbookDirectories)
    {
        ArgumentNullException.ThrowIfNull(drill);
        ArgumentNullException.ThrowIfNull(runbookDirectories);
        var library = new RunbookLibrary(actions);
        if (overridePath is not null)
        {
            return File.Exists(overridePath) ? (library.LoadFile(overridePath), null) : (null, new RunbookDiagnostic(drill.RunbookAt, $"--runbook {overridePath}: no such file"));
        }

        if (RunbookLibrary.IsRunbookFile(drill.Runbook))
        {
            var beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(drillFile)) ?? ".", drill.Runbook);
            return File.Exists(beside)
                ? (library.LoadFile(beside), null)
                : (null, new RunbookDiagnostic(drill.RunbookAt, $"runbook '{drill.Runbook}' not found: a path is relative to the drill file ({RunbookLibrary.DisplayPath(beside)} does not exist)"));
        }

        string? problem = null;
        foreach (var directory in runbookDirectories.DefaultIfEmpty("runbooks"))
        {
            if (!Directory.Exists(directory))
            {
                problem ??= $"runbook '{drill.Runbook}' not found: the runbooks directory '{directory}' does not exist (set --runbooks or RUNBOOK_PATH)";
                continue;
            }

            var (entry, notFound) = RunbookLibrary.Match([.. library.Load([directory]).Entries], drill.Runbook, directory);
            if (entry is not null)
            {
                return (entry, null);
            }

            problem = notFound;
        }

        return (null, new RunbookDiagnostic(drill.RunbookAt, problem ?? $"runbook '{drill.Runbook}' not found"));
    }

    /// <summary>Replays a drill against a valid runbook.</summary>
    /// <param name="drill">The drill.</param>
    /// <param name="runbook">The runbook's entry; its runbook must be valid.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened and which expectations held.</returns>
    public async Task<DrillResult> RunAsync(Drill drill, RunbookEntry runbook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(drill);
        ArgumentNullException.ThrowIfNull(runbook);
        if (runbook.Runbook is null)
        {
            throw new ArgumentException("the runbook must be valid", nameof(runbook));
        }

        var wallStart = TimeProvider.System.GetTimestamp();
        var directory = Path.Combine(Path.GetTempPath(), "runbook-drills", $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(directory, "drill.db"), Synchronous = SqliteSynchronous.Normal }, cancellationToken).ConfigureAwait(false);
            await using (store.ConfigureAwait(false))
            {
                var replay = new Replay(drill, runbook, actions, store);
                return await replay.RunAsync(wallStart, cancellationToken).ConfigureAwait(false);
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
                // Left for the OS's temp cleaner.
            }
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("run_[0-9a-f]{32}")]
    private static partial System.Text.RegularExpressions.Regex RunIdPattern();

    /// <summary>One replay: its clock, store, service and the events it still has to deliver.</summary>
    private sealed class Replay
    {
        private readonly Drill drill;
        private readonly RunbookEntry entry;
        private readonly SqliteWorkflowStore store;
        private readonly DrillStore engineStore;
        private readonly VirtualClock clock;
        private readonly DrillScenario scenario;
        private readonly LocalRunbookService service;
        private readonly LocalRunbookService observer;
        private readonly List<DrillFaultEvent> faultEvents = [];
        private readonly AlertRouter router;
        private readonly List<(DateTimeOffset At, int Order, string What, Func<CancellationToken, Task> Deliver)> pending = [];
        private readonly List<string> runs = [];
        private readonly List<string> alertLines = [];
        private readonly List<string> notificationOutcomes = [];
        private readonly HashSet<long> requestsSeen = [];
        private readonly HashSet<DrillApproval> approvalsUsed = [];
        private readonly ActionCatalog actions;
        private string? firstOutcome;
        private int order;
        private WorkflowWorker? worker;
        private int workersStarted;
        private DrillFault? killedBy;
        private DateTimeOffset? restartAt;

        public Replay(Drill drill, RunbookEntry entry, ActionCatalog actions, SqliteWorkflowStore store)
        {
            this.drill = drill;
            this.entry = entry;
            this.store = store;
            clock = new VirtualClock(drill.Start);
            scenario = new DrillScenario(drill, actions, clock) { Strike = StrikeAsync };

            // The engine (service, alert router, workers) goes through the store a fault can take down; the drill's
            // own bookkeeping reads the store underneath.
            engineStore = new DrillStore(store, clock);
            service = new LocalRunbookService(engineStore, actions, [Path.GetFullPath(entry.File)], "drill", clock);
            observer = new LocalRunbookService(store, actions, [Path.GetFullPath(entry.File)], "drill", clock);
            router = new AlertRouter(service, NullLogger.Instance, clock);
            this.actions = actions;
            Queues = ["default", .. entry.Runbook!.Steps.Select(s => s.Queue).OfType<string>().Distinct(StringComparer.Ordinal)];
        }

        private IReadOnlyList<string> Queues { get; }

        public async Task<DrillResult> RunAsync(long wallStart, CancellationToken ct)
        {
            Schedule();
            StartWorker();
            try
            {
                var end = drill.Start + drill.Horizon;
                var horizonReached = false;
                while (true)
                {
                    ct.ThrowIfCancellationRequested();
                    await DeliverDueAsync(ct).ConfigureAwait(false);
                    if (worker is null && restartAt <= clock.GetUtcNow())
                    {
                        StartWorker();
                    }

                    if (worker is not null)
                    {
                        try
                        {
                            await worker.RunUntilIdleAsync(ct).ConfigureAwait(false);
                        }
                        catch (WorkflowStoreException) when (engineStore.DownUntil is not null)
                        {
                            // The worker cannot claim while the store is down; it polls again when the store is back.
                        }

                        if (killedBy is { } fault)
                        {
                            await worker.DisposeAsync().ConfigureAwait(false);
                            worker = null;
                            killedBy = null;
                            restartAt = clock.GetUtcNow() + fault.Duration;
                            continue;
                        }
                    }

                    await ScheduleDecisionsAsync(ct).ConfigureAwait(false);
                    var next = await NextAsync(ct).ConfigureAwait(false);
                    if (next is null)
                    {
                        break;
                    }

                    if (next > end)
                    {
                        horizonReached = true;
                        break;
                    }

                    clock.AdvanceTo(next.Value);
                }

                return await ResultAsync(wallStart, horizonReached, ct).ConfigureAwait(false);
            }
            finally
            {
                if (worker is not null)
                {
                    await worker.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        private void StartWorker()
        {
            workersStarted++;
            var id = workersStarted == 1 ? "drill" : $"drill-{workersStarted}";
            worker = new WorkflowWorker(engineStore, new RunbookResolver(actions), new WorkerOptions { WorkerId = id, Queues = Queues }, scenario.Activities(), clock, NullLoggerFactory.Instance);
            if (workersStarted > 1)
            {
                var last = faultEvents.FindLastIndex(f => f.Kind == "worker_dies" && f.Until is null);
                if (last >= 0)
                {
                    faultEvents[last] = faultEvents[last] with { Until = clock.GetUtcNow() - drill.Start, What = faultEvents[last].What + $"; worker {id} starts at {DrillScenario.Format(clock.GetUtcNow() - drill.Start)}" };
                }

                restartAt = null;
            }
        }

        /// <summary>What a call that meets a fault does to the engine: the worker running it dies, or the store goes down.</summary>
        private async Task StrikeAsync(DrillFault fault)
        {
            var now = clock.GetUtcNow() - drill.Start;
            if (fault.Kind == DrillFaultKind.WorkerDies && worker is { } dying)
            {
                faultEvents.Add(new("worker_dies", now, null, $"worker {dying.WorkerId} dies during step '{fault.Step}' (attempt {fault.Attempt})"));
                killedBy = fault;
                await dying.KillAsync().ConfigureAwait(false);
            }
            else if (fault.Kind == DrillFaultKind.StoreUnreachable)
            {
                engineStore.Outage(clock.GetUtcNow(), fault.Duration);
                faultEvents.Add(new("store_unreachable", now, now + fault.Duration, $"the store is unreachable for {Durations.Format(fault.Duration)} from the call of step '{fault.Step}' (attempt {fault.Attempt})"));
            }
        }

        private void Add(TimeSpan at, string what, Func<CancellationToken, Task> deliver) => pending.Add((drill.Start + at, order++, what, deliver));

        private void Schedule()
        {
            foreach (var fault in drill.Faults.Where(f => f.Kind == DrillFaultKind.StoreUnreachable && f.At is not null))
            {
                engineStore.Outage(drill.Start + fault.At!.Value, fault.Duration);
                faultEvents.Add(new("store_unreachable", fault.At.Value, fault.At.Value + fault.Duration, $"the store is unreachable for {Durations.Format(fault.Duration)}"));
            }

            if (drill.Run is { } run)
            {
                Add(run.At, $"{run.Actor} starts the run", async ct =>
                {
                    var (bound, problems) = InputBinder.Bind(entry.Runbook!, run.Inputs);
                    if (problems.Count > 0)
                    {
                        scenario.Note($"the run could not start: {string.Join("; ", problems.Select(p => p.Message))}");
                        return;
                    }

                    var started = await service.StartRunbookAsync(entry, bound, run.DryRun, null, run.Actor, null, ct).ConfigureAwait(false);
                    runs.Add(started.Run.RunId);
                });
            }

            foreach (var alert in drill.Alerts)
            {
                var firing = new Alert(alert.Source, "firing", Alert.FingerprintOf(alert.Labels), alert.Labels, alert.Annotations, drill.Start + alert.Fired, null, null);
                Add(alert.Received, $"{alert.Name} fires", ct => RouteAsync(firing, "fired", ct));
                foreach (var repeat in alert.Repeats)
                {
                    Add(repeat, $"{alert.Name} repeats", ct => RouteAsync(firing, "repeated", ct));
                }

                if (alert.Resolved is { } resolved)
                {
                    var done = firing with { Status = "resolved", EndsAt = drill.Start + resolved };
                    Add(resolved, $"{alert.Name} resolves", ct => RouteAsync(done, "resolved", ct));
                }
            }
        }

        private async Task RouteAsync(Alert alert, string what, CancellationToken ct)
        {
            var outcomes = await router.RouteAsync([alert], new JsonObject { ["drill"] = drill.Name }, ct).ConfigureAwait(false);
            foreach (var outcome in outcomes)
            {
                firstOutcome ??= outcome.Outcome;
                notificationOutcomes.Add(outcome.Outcome);
                alertLines.Add($"{DrillScenario.Format(clock.GetUtcNow() - drill.Start)} {alert.Name} {what}: {outcome.Outcome}{(outcome.Runbook is null ? string.Empty : $" ({outcome.Runbook})")}{(outcome.Reason is null ? string.Empty : $": {outcome.Reason}")}");
                if (outcome.RunId is { } id && !runs.Contains(id))
                {
                    runs.Add(id);
                }
            }
        }

        private async Task DeliverDueAsync(CancellationToken ct)
        {
            while (pending.Where(p => p.At <= clock.GetUtcNow()).OrderBy(p => p.At).ThenBy(p => p.Order).FirstOrDefault() is { Deliver: not null } due)
            {
                pending.Remove(due);
                try
                {
                    await due.Deliver(ct).ConfigureAwait(false);
                }
                catch (WorkflowStoreException) when (engineStore.DownUntil is { } back)
                {
                    // As Alertmanager resends a notification its webhook refused, and a person tries again, the
                    // delivery is repeated when the store is back.
                    var now = clock.GetUtcNow() - drill.Start;
                    faultEvents.Add(new("delivery_refused", now, back - drill.Start, $"{due.What}: refused, the store is unreachable; delivered again at {DrillScenario.Format(back - drill.Start)}"));
                    pending.Add((back, due.Order, due.What, due.Deliver));
                }
            }
        }

        /// <summary>Schedules the drill's decision for every approval a run has asked for since the last look.</summary>
        private async Task ScheduleDecisionsAsync(CancellationToken ct)
        {
            foreach (var runId in runs)
            {
                var timeline = await observer.GetTimelineAsync(runId, 0, ct).ConfigureAwait(false);
                foreach (var request in timeline.Events.Where(e => e.Kind == "approval.requested" && requestsSeen.Add(e.Seq)))
                {
                    var step = request.Data?["step"]?.GetValue<string>() ?? string.Empty;
                    var chosen = drill.Approvals.Where(a => !approvalsUsed.Contains(a) && a.Step == step).ToList();
                    if (chosen.Count == 0 && drill.Approvals.FirstOrDefault(a => !approvalsUsed.Contains(a) && a.Step is null) is { } next)
                    {
                        chosen.Add(next);
                    }

                    foreach (var approval in chosen)
                    {
                        approvalsUsed.Add(approval);
                        if (approval.Approve is not { } approve)
                        {
                            continue; // never answered: the gate's timeout (if any) decides
                        }

                        var id = runId;
                        pending.Add((request.At + approval.After, order++, $"{approval.By} decides {step}", async c =>
                        {
                            try
                            {
                                var decided = await service.DecideAsync(id, approve, step, approval.Comment ?? $"{(approve ? "approved" : "rejected")} in drill {drill.Name}", new Caller(approval.By, approval.Groups), c).ConfigureAwait(false);
                                if (!decided.Accepted)
                                {
                                    scenario.Note($"{approval.By}'s decision on '{step}' was refused: {decided.Reason}");
                                }
                            }
                            catch (RunbookServiceException ex)
                            {
                                scenario.Note($"{approval.By}'s decision on '{step}' at {DrillScenario.Format(clock.GetUtcNow() - drill.Start)} could not be delivered: {ex.Message}");
                            }
                        }));
                    }
                }
            }
        }

        /// <summary>When something happens next: a scheduled event of the drill, or a run's timer, retry or timeout.</summary>
        private async Task<DateTimeOffset?> NextAsync(CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            DateTimeOffset? next = pending.Count == 0 ? null : pending.Min(p => p.At);
            var engine = new List<DateTimeOffset>(engineStore.Ends);
            if (worker is null && restartAt is { } restart)
            {
                engine.Add(restart);
            }

            foreach (var at in engine.Where(e => e > now))
            {
                next = next is null || at < next ? at : next;
            }

            foreach (var runId in runs)
            {
                var run = await store.GetRunAsync(runId, ct).ConfigureAwait(false);
                if (run is null || run.Status.IsTerminal())
                {
                    continue;
                }

                var candidates = new List<DateTimeOffset>();
                if (run.AvailableAt is { } wake)
                {
                    candidates.Add(wake);
                }

                if (run.Status == RunStatus.Running && run.LeaseExpiresAt is { } expires)
                {
                    candidates.Add(expires); // its worker died or lost the store: recovered when the lease expires
                }

                var history = await store.LoadHistoryAsync(runId, ct).ConfigureAwait(false);
                candidates.AddRange(history.Steps.Where(s => s.Kind == StepKind.Activity && s.Status == StepStatus.Queued && s.AvailableAt is not null).Select(s => s.AvailableAt!.Value));
                candidates.AddRange(history.Steps.Where(s => s.Kind == StepKind.Activity && s.Status == StepStatus.Running && s.LeaseExpiresAt is not null).Select(s => s.LeaseExpiresAt!.Value));
                foreach (var at in candidates.Where(c => c > now))
                {
                    next = next is null || at < next ? at : next;
                }
            }

            return next;
        }

        private async Task<DrillResult> ResultAsync(long wallStart, bool horizonReached, CancellationToken ct)
        {
            var runbook = entry.Runbook!;
            var checks = new List<DrillCheck>();
            var expect = drill.Expect;
            RunView? run = runs.Count == 0 ? null : await observer.GetRunAsync(runs[0], ct).ConfigureAwait(false);
            var events = run is null ? [] : (await observer.GetTimelineAsync(run.RunId, 0, ct).ConfigureAwait(false)).Events
                .Select(e => new DrillEvent(e.Seq, e.At - drill.Start, e.Actor, e.Kind, e.Data)).ToList();
            var (stepsRun, stepsSkipped) = DrillChecks.Steps(runbook, events);
            string Where(SourceLocation? at) => at?.ToString() ?? drill.File;
            checks.AddRange(DrillChecks.OfRun(drill, run, events, stepsRun, stepsSkipped, firstOutcome, notificationOutcomes));

            var calls = scenario.Calls;
            foreach (var (step, count, at) in expect.Attempts)
            {
                var made = calls.Count(c => c.Role == "action" && c.Step == step);
                checks.Add(new($"attempts: {step}", made == count, $"{count} call(s) of its action", $"{made} call(s){(made == 0 ? string.Empty : ": " + string.Join(", ", calls.Where(c => c.Role == "action" && c.Step == step).Select(c => $"attempt {c.Attempt} at {DrillScenario.Format(c.At)} ({c.Answer ?? "no answer"})")))}", at.ToString()));
            }
            if (expect.NoUnapprovedDestructive)
            {
                var granted = events.Where(e => e.Kind == "approval.granted").Select(e => e.At).DefaultIfEmpty(TimeSpan.MaxValue).Min();
                var unapproved = calls.Where(c => c.Role != "plan" && c.SideEffect == "destructive" && c.At < granted).ToList();
                checks.Add(new(
                    "no_unapproved_destructive",
                    unapproved.Count == 0,
                    "no destructive call before an approval",
                    unapproved.Count == 0 ? $"{calls.Count(c => c.Role != "plan" && c.SideEffect == "destructive")} destructive call(s), all approved first" : string.Join("; ", unapproved.Select(c => $"{c.Step} ({c.Action}) at {DrillScenario.Format(c.At)} without approval")),
                    Where(expect.At)));
            }

            if (expect.Calls is { } expected)
            {
                var divergences = Divergences(expected, [.. calls.Where(c => c.Role != "plan")]);
                checks.Add(new(
                    "calls",
                    divergences.Count == 0,
                    $"the {expected.Count} recorded call(s), in order, with the same inputs",
                    divergences.Count == 0 ? $"{expected.Count} call(s) as recorded" : string.Join("; ", divergences.Take(5)) + (divergences.Count > 5 ? $"; and {divergences.Count - 5} more" : string.Empty),
                    expected.Count > 0 ? expected[0].At.ToString() : Where(expect.At)));
            }

            var fired = drill.Alerts.Count == 0 ? (DateTimeOffset?)null : drill.Start + drill.Alerts[0].Fired;
            TimeSpan? mttd = fired is { } f && run is not null ? run.CreatedAt - f : null;
            var (recoveredAt, recoveredBy) = DrillChecks.Recovery(run, events, drill.Start, drill.Alerts.Count > 0 ? drill.Alerts[0].Resolved : null);
            TimeSpan? mttr = fired is { } f2 && recoveredAt is { } r ? drill.Start + r - f2 : null;
            checks.AddRange(DrillChecks.OfTimes(drill, fired is not null, mttd, mttr, recoveredBy));

            // What every drill checks: each call was answered, and the run ended.
            checks.Add(new("every call answered", scenario.Unanswered == 0, "the drill answers every action call", scenario.Unanswered == 0 ? $"{calls.Count} call(s) answered" : $"{scenario.Unanswered} call(s) unanswered"));
            if (run is not null)
            {
                checks.Add(new("run ended", run.IsTerminal, "the run ends within the drill's horizon", run.IsTerminal ? $"{run.Status} at {DrillScenario.Format((run.CompletedAt ?? run.CreatedAt) - drill.Start)}" : horizonReached ? $"still {run.Status} at the horizon ({Durations.Format(drill.Horizon)})" : $"still {run.Status}: {Stuck(events)}"));
            }

            var notes = scenario.Notes.ToList();
            notes.AddRange(drill.Approvals.Where(a => !approvalsUsed.Contains(a)).Select(a =>
                $"{a.At}: the run never asked for the approval {(a.Step is null ? string.Empty : $"of '{a.Step}' ")}that {(a.Approve is null ? "is never answered" : $"{a.By} gives")}"));
            var hit = scenario.Calls.Where(c => c.Answer == "the worker died during the call").Select(c => (c.Step, c.Attempt)).ToHashSet();
            notes.AddRange(drill.Faults.Where(f => f.Step is not null && !hit.Contains((f.Step, f.Attempt)) && (f.Kind == DrillFaultKind.WorkerDies || !faultEvents.Any(e => e.What.Contains($"the call of step '{f.Step}' (attempt {f.Attempt})", StringComparison.Ordinal))))
                .Select(f => $"{f.Location}: step '{f.Step}' was never called at attempt {f.Attempt}, so the fault never struck"));
            if (runs.Count > 1)
            {
                notes.Add($"{runs.Count} runs started; the report is about the first, {runs[0]}");
            }

            var endAt = events.Count == 0 ? clock.GetUtcNow() - drill.Start : events.Max(e => e.At);
            return new DrillResult
            {
                Drill = drill.Name,
                File = drill.File,
                Runbook = runbook.Name,
                RunbookFile = entry.File,
                Checks = checks,
                Alerts = alertLines,
                Faults = faultEvents,
                Status = run?.Status,
                ErrorKind = run?.ErrorKind,
                Error = run?.Error,
                Output = run?.Output,
                Mttd = mttd,
                Mttr = mttr,
                RecoveredBy = recoveredBy,
                StepsRun = stepsRun,
                StepsSkipped = stepsSkipped,
                Calls = calls,
                Timeline = events,
                Notes = notes,
                VirtualDuration = endAt,
                ElapsedMilliseconds = TimeProvider.System.GetElapsedTime(wallStart).TotalMilliseconds,
            };
        }

        /// <summary>Where the calls made differ from the calls expected: a step now skipped, a new step, a different input.</summary>
        private static List<string> Divergences(IReadOnlyList<DrillExpectedCall> expected, IReadOnlyList<DrillCall> made)
        {
            var found = new List<string>();
            var i = 0;
            var j = 0;
            while (i < expected.Count || j < made.Count)
            {
                var e = i < expected.Count ? expected[i] : null;
                var m = j < made.Count ? made[j] : null;
                if (e is not null && m is not null && e.Step == m.Step && e.Action == m.Action)
                {
                    if (e.With is not null && !JsonNode.DeepEquals(WithoutRunIds(e.With), WithoutRunIds(m.With)))
                    {
                        found.Add($"{m.Step} ({m.Action}) was called with different inputs: {Difference(e.With, m.With)} ({e.At})");
                    }

                    i++;
                    j++;
                }
                else if (e is not null && !made.Skip(j).Any(x => x.Step == e.Step && x.Action == e.Action))
                {
                    found.Add($"{e.Step} ({e.Action}) was recorded but not called now ({e.At})");
                    i++;
                }
                else if (m is not null)
                {
                    found.Add($"{m.Step} ({m.Action}) is called now at {DrillScenario.Format(m.At)} but was not recorded there");
                    j++;
                }
                else
                {
                    i++;
                }
            }

            return found;
        }

        /// <summary>A call's inputs with run ids made alike: a recorded run and its replay are different runs.</summary>
        private static JsonNode? WithoutRunIds(JsonNode? with) =>
            with is null ? null : JsonNode.Parse(RunIdPattern().Replace(with.ToJsonString(), "run_"));

        private static string Difference(JsonNode? recorded, JsonNode? now, string path = "with")
        {
            if (recorded is JsonObject ro && now is JsonObject no)
            {
                foreach (var key in ro.Select(k => k.Key).Union(no.Select(k => k.Key)))
                {
                    if (!JsonNode.DeepEquals(ro[key], no[key]))
                    {
                        return Difference(ro[key], no[key], $"{path}.{key}");
                    }
                }
            }

            if (recorded is JsonArray ra && now is JsonArray na)
            {
                for (var k = 0; k < Math.Max(ra.Count, na.Count); k++)
                {
                    if (!JsonNode.DeepEquals(k < ra.Count ? ra[k] : null, k < na.Count ? na[k] : null))
                    {
                        return Difference(k < ra.Count ? ra[k] : null, k < na.Count ? na[k] : null, $"{path}[{k}]");
                    }
                }
            }

            return $"{path} was {recorded?.ToJsonString() ?? "absent"}, now {now?.ToJsonString() ?? "absent"}";
        }

        private static string Stuck(List<DrillEvent> events) =>
            events.LastOrDefault(e => e.Kind == "approval.requested") is { } asked && !events.Any(e => e.Seq > asked.Seq && e.Kind is "approval.granted" or "approval.rejected" or "approval.timed_out")
                ? $"it waits for approval of '{asked.Step}' with no timeout, and the drill's approvals never decide it"
                : "nothing the drill does moves it on";
    }
}
