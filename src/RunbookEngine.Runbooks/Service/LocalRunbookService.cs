using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Scripting;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks.Service;

/// <summary>The runbook operations on a store and runbook directories in this process (embedded CLI, the server).</summary>
public sealed class LocalRunbookService : IRunbookService
{
    private readonly IGuardStore guards;
    private readonly IJournalStore journal;
    private readonly IDrillReportStore drillReports;
    private readonly ActionCatalog actions;
    private readonly RunbookLibrary library;
    private readonly IRunClient client;
    private volatile StrongBox<(string Stamp, IReadOnlyList<RunbookEntry> Entries)>? cacheBox;

    /// <summary>Initializes a new instance of the <see cref="LocalRunbookService"/> class on the kernel's store.</summary>
    /// <param name="store">The store: runs through a <see cref="WorkflowClient"/>, guards and journal directly.</param>
    /// <param name="actions">The actions runbooks may use.</param>
    /// <param name="runbookDirectories">Where runbooks are found by name.</param>
    /// <param name="location">The store as shown to people.</param>
    /// <param name="timeProvider">The clock.</param>
    public LocalRunbookService(IWorkflowStore store, ActionCatalog actions, IReadOnlyList<string> runbookDirectories, string location, TimeProvider? timeProvider = null)
        : this(new WorkflowClient(store ?? throw new ArgumentNullException(nameof(store)), timeProvider), store, store, store, actions, runbookDirectories, location)
    {
        Retention = store;
    }

    /// <summary>Initializes a new instance of the <see cref="LocalRunbookService"/> class on any engine.</summary>
    /// <param name="client">The engine's run client.</param>
    /// <param name="guards">Where guard state is kept.</param>
    /// <param name="journal">Where alerts that started no run are kept.</param>
    /// <param name="drillReports">Where drill reports are kept.</param>
    /// <param name="actions">The actions runbooks may use.</param>
    /// <param name="runbookDirectories">Where runbooks are found by name.</param>
    /// <param name="location">The engine and store as shown to people.</param>
    public LocalRunbookService(IRunClient client, IGuardStore guards, IJournalStore journal, IDrillReportStore drillReports, ActionCatalog actions, IReadOnlyList<string> runbookDirectories, string location)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(guards);
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(drillReports);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(runbookDirectories);
        this.client = client;
        this.guards = guards;
        this.journal = journal;
        this.drillReports = drillReports;
        this.actions = actions;
        library = new RunbookLibrary(actions);
        RunbookDirectories = runbookDirectories;
        Location = location;
    }

    /// <inheritdoc/>
    public string Location { get; }

    /// <summary>Gets the directories runbooks are found in by name.</summary>
    public IReadOnlyList<string> RunbookDirectories { get; }

    /// <summary>Gets or sets a value indicating whether <see cref="StartRequest.Runbook"/> may be a file path (embedded CLI) or only a name (server).</summary>
    public bool AllowFiles { get; set; } = true;

    /// <summary>Gets or sets a callback for when this service made work available (wakes an in-process kernel worker).</summary>
    public Action? WorkAvailable
    {
        get => (client as WorkflowClient)?.WorkAvailable;
        set
        {
            if (client is WorkflowClient kernel)
            {
                kernel.WorkAvailable = value;
            }
        }
    }

    /// <summary>Gets where the tombstones of pruned runs are, so that asking for one says it was pruned; null on an engine whose runs live elsewhere.</summary>
    public IRetentionStore? Retention { get; init; }

    /// <summary>Gets the engine's run client.</summary>
    public IRunClient Client => client;

    /// <summary>Gets where alerts that started no run are kept.</summary>
    public IJournalStore Journal => journal;

    /// <summary>Loads every runbook of the directories.</summary>
    /// <returns>The entries.</returns>
    public IReadOnlyList<RunbookEntry> LoadRunbooks()
    {
        var missing = RunbookDirectories.Where(d => !Directory.Exists(d) && !File.Exists(d)).ToList();
        if (missing.Count > 0)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"the runbooks directory '{missing[0]}' does not exist (set --runbooks or RUNBOOK_PATH)");
        }

        // Parsed again only when a file was added, removed or changed: alert routing loads them per notification.
        var files = RunbookLibrary.Files(RunbookDirectories).Files;
        var stamp = string.Join('\n', files.Select(f => $"{f}|{File.GetLastWriteTimeUtc(f).Ticks}|{new FileInfo(f).Length}"));
        if (cacheBox is { } cached && cached.Value.Stamp == stamp)
        {
            return cached.Value.Entries;
        }

        var entries = files.Select(library.LoadFile).ToList();
        cacheBox = new StrongBox<(string, IReadOnlyList<RunbookEntry>)>((stamp, entries));
        return entries;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunbookInfo>> ListRunbooksAsync(CancellationToken cancellationToken)
    {
        var list = new List<RunbookInfo>();
        foreach (var e in LoadRunbooks())
        {
            // One indexed read per runbook (workflow, newest first): the page lists tens of runbooks, not thousands.
            var last = e.Runbook is null ? null : (await client.ListRunsAsync(new RunQuery { WorkflowName = e.Name, Limit = 1 }, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
            list.Add(new RunbookInfo(e.Name, e.Runbook?.Description, e.File, e.Runbook is not null, e.Diagnostics.Count(d => !d.Warning), [.. (e.Runbook?.Inputs ?? []).Select(i => i.Name)])
            {
                Triggers = [.. (e.Runbook?.Triggers ?? []).Select(t => new TriggerInfo(
                    t.Source,
                    [.. t.Match.Select(m => $"{m.Label} {m.Op} {m.Value}")],
                    t.Mode switch { TriggerMode.DryRun => "dry-run", TriggerMode.Approval => "approval", _ => "live" }))],
                LastRun = last is null ? null : new LastRunInfo(last.RunId, last.Status.ToStoredName(), last.CreatedAt, last.CreatedBy),
            });
        }

        return list;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ValidationReport>> ValidateAsync(IReadOnlyList<RunbookSource> sources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        return Task.FromResult<IReadOnlyList<ValidationReport>>([.. sources.Select(s =>
        {
            var (runbook, problems) = RunbookLibrary.Parse(actions, s.File, s.Source);
            return Report(s.File, runbook, problems);
        })]);
    }

    /// <summary>A validation report for a parsed runbook.</summary>
    /// <param name="file">The file.</param>
    /// <param name="runbook">The runbook, when valid.</param>
    /// <param name="problems">Its problems.</param>
    /// <returns>The report.</returns>
    public static ValidationReport Report(string file, Runbook? runbook, IReadOnlyList<RunbookDiagnostic> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        return new ValidationReport(file, runbook?.Name, runbook is not null, [.. problems.Select(Problem)]);
    }

    /// <summary>A diagnostic as a view.</summary>
    /// <param name="d">The diagnostic.</param>
    /// <returns>The view.</returns>
    public static ProblemView Problem(RunbookDiagnostic d)
    {
        ArgumentNullException.ThrowIfNull(d);
        return new ProblemView(d.Location.File, d.Location.Line, d.Location.Column, d.Message, d.Warning ? "warning" : "error");
    }

    /// <summary>Finds a runbook by name (or file, when allowed).</summary>
    /// <param name="nameOrFile">The name or path.</param>
    /// <returns>The runbook entry, valid.</returns>
    public RunbookEntry Find(string nameOrFile)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrFile);
        if (!AllowFiles && (RunbookLibrary.IsRunbookFile(nameOrFile) || nameOrFile.Contains('/', StringComparison.Ordinal) || nameOrFile.Contains('\\', StringComparison.Ordinal)))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"'{nameOrFile}' is a file path; the server runs runbooks by name from its runbook directories (`runbook list` shows them)");
        }

        RunbookEntry? entry = null;
        string? problem = null;
        if (!AllowFiles)
        {
            // The server looks only at its directories' runbooks (parsed once, cached), never at a file by that name
            // in its working directory.
            (entry, problem) = RunbookLibrary.Match(LoadRunbooks(), nameOrFile, string.Join(", ", RunbookDirectories));
        }
        else
        {
            foreach (var directory in RunbookDirectories.DefaultIfEmpty("runbooks"))
            {
                (entry, problem) = library.Find(nameOrFile, directory);
                if (entry is not null)
                {
                    break;
                }
            }
        }

        if (entry is null)
        {
            throw new RunbookServiceException(ServiceErrorKind.NotFound, problem!);
        }

        if (ScriptRunbooks.IsScript(entry.File) && !InRunbookDirectories(entry.File))
        {
            // A script is code that runs in the worker: only what the operator put in the runbook directories runs.
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"'{entry.File}' is not in the runbook directories ({string.Join(", ", RunbookDirectories.DefaultIfEmpty("runbooks"))}); script runbooks run only from there (set --runbooks or RUNBOOK_PATH, or move the file)");
        }

        return entry.Runbook is null ? throw new RunbookValidationException(entry.Diagnostics) : entry;
    }

    private bool InRunbookDirectories(string file)
    {
        var full = Path.GetFullPath(file);
        return RunbookDirectories.DefaultIfEmpty("runbooks").Any(d =>
            full.StartsWith(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d)) + Path.DirectorySeparatorChar, StringComparison.Ordinal));
    }

    /// <inheritdoc/>
    public async Task<StartedRun> StartAsync(StartRequest request, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(caller);
        var entry = Find(request.Runbook);
        var (bound, problems) = InputBinder.BindText(entry.Runbook!, request.Inputs);
        if (problems.Count > 0)
        {
            throw new RunbookValidationException(problems);
        }

        var drill = CheckDrillName(request.Drill);
        return await StartRunbookAsync(entry, bound, request.DryRun, request.IdempotencyKey, caller.Actor, drill is null ? null : new JsonObject { ["drill"] = drill }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The source and firing time of the alert in a triggered run's <c>run.created</c> data, or null.</summary>
    private static JsonObject? AlertOf(JsonObject? createdData) =>
        createdData?["trigger"]?["alert"] is JsonObject alert && alert["starts_at"] is JsonValue firedAt
            ? new JsonObject { ["source"] = alert["source"]?.DeepClone(), ["fired_at"] = firedAt.DeepClone() }
            : null;

    /// <summary>The drill a run belongs to, from its <c>run.created</c> data (<c>drill</c>), or null.</summary>
    private static string? DrillOf(JsonObject? createdData) =>
        createdData?["drill"] is JsonValue v && v.TryGetValue<string>(out var name) ? name : null;

    /// <summary>Checks a drill's name as a client gives it (a header, a request field): 1 to 100 letters, digits, '.', '_', '-'.</summary>
    /// <param name="drill">The name, or null.</param>
    /// <returns>The name, or null.</returns>
    public static string? CheckDrillName(string? drill) =>
        drill is null || (drill.Length is > 0 and <= 100 && drill.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            ? drill
            : throw new RunbookServiceException(ServiceErrorKind.Invalid, "a drill's name is 1 to 100 letters, digits, '.', '_' or '-'");

    /// <summary>Starts a run of a valid runbook with bound inputs.</summary>
    /// <param name="entry">The runbook.</param>
    /// <param name="inputs">The inputs, already bound.</param>
    /// <param name="dryRun">Plans only.</param>
    /// <param name="idempotencyKey">The idempotency key.</param>
    /// <param name="actor">Who starts it.</param>
    /// <param name="createdData">More data for the <c>run.created</c> event (e.g. the alert that triggered it).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="gate">The approval gate of a run an alert starts (<see cref="RunGate.For"/>), or null.</param>
    /// <returns>The run.</returns>
    public async Task<StartedRun> StartRunbookAsync(RunbookEntry entry, JsonObject inputs, bool dryRun, string? idempotencyKey, string actor, JsonObject? createdData, CancellationToken cancellationToken, JsonObject? gate = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(inputs);
        var created = new JsonObject { ["dry_run"] = dryRun, ["file"] = entry.File };
        foreach (var (key, value) in createdData ?? [])
        {
            created[key] = value?.DeepClone();
        }

        // A live drill that marks only some steps live: the run carries the others' answers from its start on.
        JsonObject? script = null;
        if (DrillOf(createdData) is { } drill && !dryRun
            && await drillReports.GetLiveDrillScriptAsync(drill, client.Now, cancellationToken).ConfigureAwait(false) is { } registered)
        {
            script = JsonNode.Parse(registered.Script) as JsonObject;
            if (script?["all_live"]?.GetValue<bool>() != true)
            {
                created["drill_live_steps"] = script?["live"]?.DeepClone();
            }

            if (script?["compensate_on_cancel"]?.GetValue<bool>() == true)
            {
                created["drill_compensate_on_cancel"] = true;
            }
        }

        var started = await client.StartAsync(
            RunbookDefinitions.ToDefinition(entry.Runbook!),
            new StartRunOptions { Actor = actor, IdempotencyKey = idempotencyKey, Input = new RunbookRunInput(inputs, dryRun, Gate: dryRun ? null : gate, Alert: AlertOf(createdData), Drill: DrillOf(createdData), Script: script).ToJson(), CreatedEventData = created, Guard = GuardFor(entry.Runbook!, inputs, dryRun) },
            cancellationToken).ConfigureAwait(false);
        return new StartedRun(View(started.Run), started.Created);
    }

    /// <summary>The guard a run starts under: its key is computed here, its decision made in the store.</summary>
    private static RunGuard? GuardFor(Runbook runbook, JsonObject inputs, bool dryRun)
    {
        if (runbook.Guards is null)
        {
            return null;
        }

        var (key, _, problem) = GuardPolicy.KeyOf(runbook, inputs);
        return key is null ? throw new RunbookServiceException(ServiceErrorKind.Invalid, problem!) : GuardPolicy.For(runbook, key, dryRun);
    }

    /// <summary>The outcomes of an alert that started no run, kept in the journal.</summary>
    public static readonly IReadOnlyList<string> UnroutedOutcomes = ["unmatched", "invalid", "no_run"];

    /// <inheritdoc/>
    public async Task<IReadOnlyList<ReceivedAlertView>> ListAlertsAsync(string? outcome, string? source, int limit, CancellationToken cancellationToken)
    {
        if (outcome is not null && !UnroutedOutcomes.Contains(outcome))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"outcome '{outcome}' must be {string.Join(", ", UnroutedOutcomes)}: alerts that started a run are in that run's timeline");
        }

        if (limit is < 1 or > 10_000)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "limit must be from 1 to 10000");
        }

        var entries = await journal.ListJournalAsync(new JournalQuery { Kind = outcome, Source = source, Limit = limit }, cancellationToken).ConfigureAwait(false);
        return [.. entries.Where(e => UnroutedOutcomes.Contains(e.Kind)).Select(e =>
        {
            var data = WorkflowJson.Parse(e.Data);
            var alert = data?["alert"];
            return new ReceivedAlertView(e.Id, e.At, e.Source, e.Kind, e.Subject, alert?["fingerprint"]?.GetValue<string>(), alert?["status"]?.GetValue<string>(), data?["runbook"]?.GetValue<string>(), data?["reason"]?.GetValue<string>(), alert?["labels"]?.DeepClone() as JsonObject);
        })];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<GuardView>> ListGuardsAsync(string? runbook, CancellationToken cancellationToken)
    {
        var now = client.Now;
        var records = await guards.ListGuardsAsync(null, 1000, cancellationToken).ConfigureAwait(false);
        var specs = LoadRunbooks().Where(e => e.Runbook is not null).GroupBy(e => e.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Runbook!.Guards, StringComparer.Ordinal);
        return [.. records
            .Select(r => GuardPolicy.Describe(specs.GetValueOrDefault(RunbookOf(r.Key)), r, now))
            .Where(v => runbook is null || v.Runbook == runbook)
            .OrderBy(v => v.Key, StringComparer.Ordinal)];
    }

    /// <inheritdoc/>
    public async Task<GuardView> ResetGuardAsync(string key, string reason, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentNullException.ThrowIfNull(caller);
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "a guard reset needs a reason (--reason \"...\"); it is recorded with who reset it");
        }

        if (!await guards.ResetGuardAsync(key, new GuardReset(client.Now, caller.Actor, reason.Trim()), cancellationToken).ConfigureAwait(false))
        {
            var known = await guards.ListGuardsAsync(null, 1000, cancellationToken).ConfigureAwait(false);
            var hint = RunbookParser.DidYouMean(key, known.Select(k => k.Key));
            throw new RunbookServiceException(ServiceErrorKind.NotFound, $"no guard '{key}'{(hint is null ? string.Empty : $" (did you mean '{hint}'?)")}; `runbook guards` lists them");
        }

        var record = (await guards.ListGuardsAsync(key, 1, cancellationToken).ConfigureAwait(false))[0];
        var spec = LoadRunbooks().FirstOrDefault(e => e.Name == RunbookOf(key) && e.Runbook is not null)?.Runbook!.Guards;
        return GuardPolicy.Describe(spec, record, client.Now);
    }

    /// <inheritdoc/>
    public async Task RegisterLiveDrillAsync(string drill, JsonObject script, TimeSpan lifetime, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(caller);
        var name = CheckDrillName(drill) ?? throw new RunbookServiceException(ServiceErrorKind.Invalid, "a live drill's answers need the drill's name");
        if (lifetime < TimeSpan.FromMinutes(1) || lifetime > TimeSpan.FromDays(7))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "a live drill's answers apply for 1 minute to 7 days");
        }

        if (script["live"] is not JsonArray live || !live.All(s => s is JsonValue v && v.TryGetValue<string>(out _)))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "a live drill's answers need 'live': the step ids whose actions run for real (a list of strings, possibly empty)");
        }

        foreach (var key in new[] { "steps", "actions" })
        {
            if (script[key] is not null and not JsonObject)
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"a live drill's '{key}' must be an object");
            }
        }

        var now = client.Now;
        await drillReports.SetLiveDrillScriptAsync(new LiveDrillScript(name, script.ToJsonString(WorkflowJson.Options), caller.Actor, now, now + lifetime), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task EndLiveDrillAsync(string drill, Caller caller, CancellationToken cancellationToken) =>
        drillReports.EndLiveDrillScriptAsync(CheckDrillName(drill) ?? throw new RunbookServiceException(ServiceErrorKind.Invalid, "give the drill's name"), client.Now, cancellationToken);

    /// <inheritdoc/>
    public async Task<DrillReportView> SaveDrillReportAsync(JsonObject report, string mode, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(caller);
        if (mode is not ("replay" or "live"))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"mode '{mode}' must be replay or live");
        }

        string Text(string key, int max) =>
            report[key] is JsonValue v && v.TryGetValue<string>(out var text) && text.Trim().Length > 0 && text.Length <= max
                ? text
                : throw new RunbookServiceException(ServiceErrorKind.Invalid, $"a drill report needs '{key}', a string of 1 to {max} characters (what `runbook drill run --report json` prints for one drill)");
        var drill = Text("drill", 200);
        var runbook = Text("runbook", 200);
        if (report["passed"] is not JsonValue p || !p.TryGetValue<bool>(out var passed))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "a drill report needs 'passed': true or false");
        }

        if (report["checks"] is not JsonArray)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "a drill report needs 'checks': the list of its expectations");
        }

        var stored = await drillReports.AppendDrillReportAsync(new NewDrillReport(client.Now, drill, runbook, passed, caller.Actor, mode, report.ToJsonString(WorkflowJson.Options)), cancellationToken).ConfigureAwait(false);
        return DrillReportOf(stored, whole: false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DrillReportView>> ListDrillReportsAsync(string? drill, string? runbook, bool? passed, int limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 10_000)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "limit must be from 1 to 10000");
        }

        var stored = await drillReports.ListDrillReportsAsync(new DrillReportQuery { Drill = drill, Runbook = runbook, Passed = passed, Limit = limit }, cancellationToken).ConfigureAwait(false);
        return [.. stored.Select(r => DrillReportOf(r, whole: false))];
    }

    /// <inheritdoc/>
    public async Task<DrillReportView> GetDrillReportAsync(long id, CancellationToken cancellationToken) =>
        await drillReports.GetDrillReportAsync(id, cancellationToken).ConfigureAwait(false) is { } stored
            ? DrillReportOf(stored, whole: true)
            : throw new RunbookServiceException(ServiceErrorKind.NotFound, $"no drill report {id}; `runbook drill list` lists them");

    private static DrillReportView DrillReportOf(DrillReport stored, bool whole)
    {
        var report = WorkflowJson.Parse(stored.Report) as JsonObject;
        static double? Seconds(JsonNode? node) =>
            node is JsonValue v && v.TryGetValue<string>(out var text) && TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var t) ? Math.Round(t.TotalSeconds, 3) : null;
        return new DrillReportView
        {
            Id = stored.Id,
            At = stored.At,
            Drill = stored.Drill,
            Runbook = stored.Runbook,
            Passed = stored.Passed,
            Mode = stored.Mode,
            By = stored.Actor,
            Status = report?["status"] is JsonValue s && s.TryGetValue<string>(out var status) ? status : null,
            MttdSeconds = Seconds(report?["mttd"]),
            MttrSeconds = Seconds(report?["mttr"]),
            Failed = report?["checks"] is JsonArray checks
                ? [.. checks.OfType<JsonObject>().Where(c => c["passed"] is JsonValue ok && ok.TryGetValue<bool>(out var b) && !b).Select(c => c["name"]?.ToString() ?? "?")]
                : [],
            Report = whole ? report : null,
        };
    }

    private static string RunbookOf(string key) => key.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0 ? key[..slash] : key;

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunView>> ListRunsAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var (status, runbook, limit) = (filter.Status, filter.Runbook, filter.Limit);
        if (filter.BeforeRunId is not null && filter.Before is null)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "before_id needs before (the created_at of the run it names)");
        }

        if (limit is < 1 or > 10_000)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "--limit must be from 1 to 10000");
        }

        RunStatus? parsed = null;
        if (status is not null)
        {
            try
            {
                parsed = RunStatusExtensions.ParseStoredName(status);
            }
            catch (FormatException)
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"status '{status}' is not one of ready, running, waiting, completed, failed, cancelled, blocked");
            }
        }

        var runs = await client.ListRunsAsync(
            new RunQuery
            {
                Status = parsed,
                WorkflowName = runbook,
                Limit = limit,
                StartedByPrefix = filter.StartedBy,
                Target = filter.Target,
                CreatedFrom = filter.From,
                CreatedBefore = filter.Before is { } before && (filter.To is not { } to || before <= to) ? before : filter.To,
                BeforeRunId = filter.Before is { } b && (filter.To is not { } t || b <= t) ? filter.BeforeRunId : null,
            },
            cancellationToken).ConfigureAwait(false);
        return [.. runs.Select(View)];
    }

    /// <inheritdoc/>
    public async Task<RunView> GetRunAsync(string runId, CancellationToken cancellationToken) => View(await RecordAsync(runId, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public async Task<RunDetail> GetRunDetailAsync(string runId, CancellationToken cancellationToken)
    {
        var run = await RecordAsync(runId, cancellationToken).ConfigureAwait(false);
        var history = await client.GetHistoryAsync(run.RunId, cancellationToken).ConfigureAwait(false);
        var steps = history.Steps.Select(st => new StepView(
            st.Sequence, st.Name, st.Kind.ToString().ToLowerInvariant(), st.Status.ToString().ToLowerInvariant(), st.Attempt, st.ErrorKind, st.ErrorMessage, WorkflowJson.Parse(st.Output), st.Activity, WorkflowJson.Parse(st.Input))).ToList();
        var view = View(run);
        return new RunDetail(view, steps, WaitingFor(history), view.DryRun ? [.. Plan(history)] : []);
    }

    /// <inheritdoc/>
    public async Task<TimelineView> GetTimelineAsync(string runId, long afterSequence, CancellationToken cancellationToken)
    {
        var run = await RecordAsync(runId, cancellationToken).ConfigureAwait(false);
        var events = await client.GetTimelineAsync(run.RunId, afterSequence, int.MaxValue, cancellationToken).ConfigureAwait(false);
        var broken = afterSequence == 0 ? TimelineChain.Verify(events) : null;
        return new TimelineView(
            run.RunId,
            broken is null,
            broken is { } b ? $"at event {b.Sequence}: {b.Problem}" : null,
            [.. events.Select(e => new EventView(e.Sequence, e.At, e.Actor, e.Kind, WorkflowJson.Parse(e.Data), e.Hash))]);
    }

    /// <inheritdoc/>
    public async Task<DecisionResult> DecideAsync(string runId, bool approve, string? step, string? comment, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var verb = approve ? "approve" : "reject";
        var run = await RecordAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run.Status.IsTerminal())
        {
            throw new RunbookServiceException(ServiceErrorKind.Conflict, $"run {run.RunId} has already ended ({run.Status.ToStoredName()}); nothing to {verb}");
        }

        var runbook = await PinnedRunbookAsync(run, cancellationToken).ConfigureAwait(false);
        var history = await client.GetHistoryAsync(run.RunId, cancellationToken).ConfigureAwait(false);
        var pending = ApprovalRules.Pending(history)?.StepId;
        var stepId = step ?? pending
            ?? throw new RunbookServiceException(ServiceErrorKind.Conflict, $"run {run.RunId} is not waiting for an approval (status {run.Status.ToStoredName()}); name the step with --step to decide ahead of time");
        var events = await client.GetTimelineAsync(run.RunId, 0, int.MaxValue, cancellationToken).ConfigureAwait(false);
        ApprovalSpec? spec;
        if (runbook.Language == RunbookLanguage.Script)
        {
            // A script's approvals are code: what the run asked for is in its timeline. A decision sent before the
            // request is checked by the run itself when it gets there.
            spec = ApprovalRules.FromRequest(Requested(events, stepId));
        }
        else
        {
            // The gate the engine added to a triggered run is not a step of the runbook: its request is in the timeline.
            spec = runbook.Steps.FirstOrDefault(x => x.Id == stepId && x.Type == StepType.Approval)?.Approval
                ?? ApprovalRules.FromRequest(Requested(events, stepId))
                ?? throw new RunbookServiceException(ServiceErrorKind.Invalid, $"runbook '{runbook.Name}' has no approval step '{stepId}'; its approval steps: {string.Join(", ", runbook.Steps.Where(x => x.Type == StepType.Approval).Select(x => x.Id))}");
        }

        var granted = GrantedBy(events, stepId);
        var refusal = spec is null ? null : ApprovalRules.Refusal(spec, run.CreatedBy, caller.Actor, [.. caller.Groups], granted);

        // Sent even when refused: the workflow records the refused attempt, so the timeline shows who tried.
        var payload = new JsonObject
        {
            ["decision"] = verb,
            ["comment"] = comment,
            ["groups"] = new JsonArray([.. caller.Groups.Select(g => JsonValue.Create(g))]),
        };
        if (pending != stepId)
        {
            payload["ahead"] = true; // the run is not asking for this approval yet: it holds for a while only
        }
        var outcome = await client.SignalAsync(run.RunId, RunbookWorkflow.ApprovalSignalPrefix + stepId, payload, caller.Actor, cancellationToken).ConfigureAwait(false);
        if (outcome != SignalOutcome.Delivered)
        {
            throw new RunbookServiceException(ServiceErrorKind.Conflict, $"run {run.RunId} could not receive the decision ({outcome})");
        }

        return new DecisionResult(run.RunId, stepId, verb, caller.Actor, refusal is null, refusal);
    }

    /// <summary>The approval a run waits for now, its rules, and whether <paramref name="caller"/> may decide it.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="caller">Who asks; the refusal is what <see cref="DecideAsync"/> would answer them.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The approval, or null when the run waits for none.</returns>
    public async Task<ApprovalView?> GetPendingApprovalAsync(string runId, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var run = await RecordAsync(runId, cancellationToken).ConfigureAwait(false);
        return run.Status.IsTerminal() ? null : await PendingApprovalAsync(run, caller, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The approvals waiting runs ask for, newest first, each with whether <paramref name="caller"/> may decide it.</summary>
    /// <param name="caller">Who asks.</param>
    /// <param name="limit">How many waiting runs are looked at, at most.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The approvals.</returns>
    public async Task<IReadOnlyList<ApprovalView>> ListPendingApprovalsAsync(Caller caller, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (limit is < 1 or > 1000)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "limit must be from 1 to 1000");
        }

        var approvals = new List<ApprovalView>();
        foreach (var run in await client.ListRunsAsync(new RunQuery { Status = RunStatus.Waiting, Limit = limit }, cancellationToken).ConfigureAwait(false))
        {
            if (await PendingApprovalAsync(run, caller, cancellationToken).ConfigureAwait(false) is { } approval)
            {
                approvals.Add(approval);
            }
        }

        return approvals;
    }

    private static string? StepOf(TimelineEvent e) => WorkflowJson.Parse(e.Data)?["step"]?.GetValue<string>();

    /// <summary>What the last request for a step's approval asked, from the timeline.</summary>
    private static JsonNode? Requested(IReadOnlyList<TimelineEvent> events, string stepId) =>
        events.LastOrDefault(e => e.Kind == "approval.requested" && StepOf(e) == stepId) is { } e ? WorkflowJson.Parse(e.Data) : null;

    /// <summary>Who approved a step so far, from the timeline: what the next decision is judged against.</summary>
    private static List<string> GrantedBy(IReadOnlyList<TimelineEvent> events, string stepId) =>
        [.. events.Where(e => e.Kind == "approval.granted" && StepOf(e) == stepId).Select(e => WorkflowJson.Parse(e.Data)?["by"]?.GetValue<string>() ?? string.Empty)];

    private async Task<ApprovalView?> PendingApprovalAsync(RunRecord run, Caller caller, CancellationToken cancellationToken)
    {
        var history = await client.GetHistoryAsync(run.RunId, cancellationToken).ConfigureAwait(false);
        if (ApprovalRules.Pending(history) is not { } pending)
        {
            return null;
        }

        var events = await client.GetTimelineAsync(run.RunId, 0, int.MaxValue, cancellationToken).ConfigureAwait(false);
        var request = events.LastOrDefault(e => e.Kind == "approval.requested" && StepOf(e) == pending.StepId);
        var data = request is null ? null : WorkflowJson.Parse(request.Data);
        if (ApprovalRules.FromRequest(data) is not { } spec)
        {
            return null;
        }

        var granted = GrantedBy(events, pending.StepId);
        return new ApprovalView(
            View(run),
            pending.StepId,
            data?["message"]?.GetValue<string>(),
            spec.Approvers,
            spec.Min,
            spec.FourEyes,
            pending.Until,
            spec.OnTimeout,
            granted,
            request!.At,
            ApprovalRules.Refusal(spec, run.CreatedBy, caller.Actor, [.. caller.Groups], granted));
    }

    /// <inheritdoc/>
    public async Task<CancelResult> CancelAsync(string runId, string? reason, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var run = await RecordAsync(runId, cancellationToken).ConfigureAwait(false);
        var outcome = await client.CancelAsync(run.RunId, caller.Actor, reason, cancellationToken).ConfigureAwait(false);
        return new CancelResult(run.RunId, outcome.ToString(), run.Status.ToStoredName());
    }

    /// <inheritdoc/>
    public async Task<StartedRun> RetryAsync(string runId, string? fromStep, Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var old = await RecordAsync(runId, cancellationToken).ConfigureAwait(false);
        if (!old.Status.IsTerminal())
        {
            throw new RunbookServiceException(ServiceErrorKind.Conflict, $"run {old.RunId} is still {old.Status.ToStoredName()}; cancel it first or wait for it to end");
        }

        var runbook = await PinnedRunbookAsync(old, cancellationToken).ConfigureAwait(false);
        var oldInput = RunbookRunInput.FromJson(WorkflowJson.Parse(old.Input));
        JsonObject? prior = null;
        if (fromStep is not null && runbook.Language == RunbookLanguage.Script)
        {
            prior = await ScriptPriorAsync(old, runbook, fromStep, cancellationToken).ConfigureAwait(false);
        }
        else if (fromStep is not null)
        {
            if (runbook.Steps.All(x => x.Id != fromStep))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"runbook '{runbook.Name}' has no step '{fromStep}'; its steps: {string.Join(", ", runbook.Steps.Select(x => x.Id))}");
            }

            var history = await client.GetHistoryAsync(old.RunId, cancellationToken).ConfigureAwait(false);
            prior = [];
            foreach (var step in runbook.Steps.TakeWhile(x => x.Id != fromStep))
            {
                var executed = history.Steps.LastOrDefault(r => r.Name == step.Id || r.Name.StartsWith(step.Id + "#", StringComparison.Ordinal));
                var skipped = history.Steps.Any(r => r.Name == step.Id + "/skipped");
                prior[step.Id] = new JsonObject
                {
                    ["status"] = skipped ? "skipped" : executed?.Status == StepStatus.Failed ? "failed" : "succeeded",
                    ["result"] = executed?.Status == StepStatus.Completed ? WorkflowJson.Parse(executed.Output) : null,
                };
            }
        }

        var definition = await client.GetDefinitionAsync(old.DefinitionHash, cancellationToken).ConfigureAwait(false);
        var started = await client.StartAsync(
            definition!,
            new StartRunOptions
            {
                Actor = caller.Actor,
                Input = new RunbookRunInput(oldInput.Inputs, oldInput.DryRun, old.RunId, fromStep, prior).ToJson(),
                CreatedEventData = new JsonObject { ["retry_of"] = old.RunId, ["from_step"] = fromStep, ["dry_run"] = oldInput.DryRun },
                Guard = GuardFor(runbook, oldInput.Inputs, oldInput.DryRun),
            },
            cancellationToken).ConfigureAwait(false);
        return new StartedRun(View(started.Run), started.Created);
    }

    /// <summary>
    /// What a retried script run reuses: its steps are code, so they are the top-level steps the old run recorded,
    /// in order, up to the named one.
    /// </summary>
    private async Task<JsonObject> ScriptPriorAsync(RunRecord old, Runbook runbook, string fromStep, CancellationToken cancellationToken)
    {
        var history = await client.GetHistoryAsync(old.RunId, cancellationToken).ConfigureAwait(false);
        var order = history.Steps.Where(r => !r.Name.Contains('/', StringComparison.Ordinal)).Select(r => r.Name).Distinct(StringComparer.Ordinal).ToList();
        if (!order.Contains(fromStep, StringComparer.Ordinal))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"run {old.RunId} of '{runbook.Name}' never reached a step '{fromStep}'; its steps: {string.Join(", ", order)}");
        }

        var prior = new JsonObject();
        foreach (var name in order.TakeWhile(n => n != fromStep))
        {
            var row = history.Steps.Last(r => r.Name == name);
            prior[name] = new JsonObject
            {
                ["status"] = row.Status == StepStatus.Failed ? "failed" : "succeeded",
                ["result"] = row.Status == StepStatus.Completed ? WorkflowJson.Parse(row.Output) : null,
            };
        }

        return prior;
    }

    /// <summary>A run record as a view.</summary>
    /// <param name="r">The record.</param>
    /// <returns>The view.</returns>
    public static RunView View(RunRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var input = WorkflowJson.Parse(r.Input);
        return new RunView
        {
            RunId = r.RunId,
            Runbook = r.WorkflowName,
            Status = r.Status.ToStoredName(),
            StartedBy = r.CreatedBy,
            CreatedAt = r.CreatedAt,
            CompletedAt = r.CompletedAt,
            DryRun = input?["dry_run"]?.GetValue<bool>() ?? false,
            Inputs = input?["inputs"]?.DeepClone(),
            Output = WorkflowJson.Parse(r.Output),
            ErrorKind = r.ErrorKind,
            Error = r.ErrorMessage,
            DefinitionHash = r.DefinitionHash,
            Drill = input?["drill"] is JsonValue d && d.TryGetValue<string>(out var drill) ? drill : null,
        };
    }

    /// <summary>The readable plan of a dry-run, in step order, from what its steps recorded.</summary>
    /// <param name="history">The run's history.</param>
    /// <returns>The plan.</returns>
    public static IEnumerable<PlanLine> Plan(RunHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        foreach (var row in history.Steps)
        {
            if (WorkflowJson.Parse(row.Output) is not JsonObject o)
            {
                continue;
            }

            var step = o["step"]?.GetValue<string>() ?? row.Name;
            if (o["summary"]?.GetValue<string>() is { } summary)
            {
                yield return new PlanLine(step, summary);
            }
            else if (row.Name.EndsWith("/skipped", StringComparison.Ordinal))
            {
                yield return new PlanLine(step, $"skipped ({o["condition"]} is false)");
            }
            else if (row.Name.EndsWith("/when", StringComparison.Ordinal))
            {
                yield return new PlanLine(step, $"runs only if {o["condition"]} (depends on a planned step)");
            }
        }
    }

    private static string? WaitingFor(RunHistory history)
    {
        if (ApprovalRules.Pending(history) is { } approval)
        {
            return $"approval of step '{approval.StepId}'" + (approval.Until is { } until ? $" until {until:yyyy-MM-dd HH:mm:ss}" : string.Empty);
        }

        var signal = history.Steps.FirstOrDefault(st => st.Kind == StepKind.Signal && st.Status == StepStatus.Waiting);
        return signal is null ? null : $"signal {WorkflowJson.Parse(signal.Input)?["signal"]}";
    }

    private async Task<RunRecord> RecordAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        if (await client.GetRunAsync(runId, cancellationToken).ConfigureAwait(false) is { } run)
        {
            return run;
        }

        if (Retention is { } retention && await retention.GetPrunedRunAsync(runId, cancellationToken).ConfigureAwait(false) is { } pruned)
        {
            throw new RunbookServiceException(
                ServiceErrorKind.NotFound,
                $"run '{runId}' ({pruned.WorkflowName}, {pruned.Status.ToStoredName()} {pruned.CompletedAt:yyyy-MM-dd HH:mm:ss}Z) was pruned on {pruned.PrunedAt:yyyy-MM-dd HH:mm:ss}Z by {pruned.PrunedBy}; its timeline ended at event {pruned.TimelineSequence} with hash {pruned.TimelineHash} (an export made before the prune ends with the same)");
        }

        throw new RunbookServiceException(ServiceErrorKind.NotFound, $"no run '{runId}' in {Location}; `runbook runs` lists them");
    }

    /// <summary>The runbook a run is pinned to, parsed from the stored definition.</summary>
    private async Task<Runbook> PinnedRunbookAsync(RunRecord run, CancellationToken cancellationToken)
    {
        var definition = await client.GetDefinitionAsync(run.DefinitionHash, cancellationToken).ConfigureAwait(false);
        if (definition is null || RunbookDefinitions.Parse(actions, definition) is not { } parsed)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"run {run.RunId} is not a runbook run (workflow '{run.WorkflowName}')");
        }

        return parsed.Runbook ?? throw new RunbookValidationException(parsed.Problems);
    }
}
