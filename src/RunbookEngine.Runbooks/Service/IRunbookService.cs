namespace RunbookEngine.Runbooks.Service;

/// <summary>
/// What people and scripts do with runbooks and runs: the operations behind every CLI command and every
/// <c>/api</c> endpoint. Embedded, it works on the store directly; remote, the CLI calls the server's API.
/// </summary>
/// <remarks>Errors are <see cref="RunbookServiceException"/>, or <see cref="Model.RunbookValidationException"/> for invalid runbooks and inputs.</remarks>
public interface IRunbookService
{
    /// <summary>Gets where runs are kept, as shown to people (a file, a database, a server URL).</summary>
    string Location { get; }

    /// <summary>Lists the runbooks.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The runbooks.</returns>
    Task<IReadOnlyList<RunbookInfo>> ListRunbooksAsync(CancellationToken cancellationToken);

    /// <summary>Validates runbook sources.</summary>
    /// <param name="sources">The sources.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>One report per source.</returns>
    Task<IReadOnlyList<ValidationReport>> ValidateAsync(IReadOnlyList<RunbookSource> sources, CancellationToken cancellationToken);

    /// <summary>Starts a run.</summary>
    /// <param name="request">What to start.</param>
    /// <param name="caller">Who starts it.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run.</returns>
    Task<StartedRun> StartAsync(StartRequest request, Caller caller, CancellationToken cancellationToken);

    /// <summary>Lists runs newest first, by every filter the CLI, the API and the console offer, one page at a time.</summary>
    /// <param name="filter">The filter and page (limit 1 to 10 000).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The runs.</returns>
    Task<IReadOnlyList<RunView>> ListRunsAsync(RunFilter filter, CancellationToken cancellationToken);

    /// <summary>Reads a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run.</returns>
    Task<RunView> GetRunAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Reads a run with its steps, what it waits for and its plan.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The detail.</returns>
    Task<RunDetail> GetRunDetailAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Reads a run's timeline, checking the hash chain when read from the start.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="afterSequence">Only events after this one.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The timeline.</returns>
    Task<TimelineView> GetTimelineAsync(string runId, long afterSequence, CancellationToken cancellationToken);

    /// <summary>Approves or rejects the approval a run waits for (or a named one).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="approve">Approve, else reject.</param>
    /// <param name="step">The approval step, or null for the pending one.</param>
    /// <param name="comment">A comment.</param>
    /// <param name="caller">Who decides.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The outcome.</returns>
    Task<DecisionResult> DecideAsync(string runId, bool approve, string? step, string? comment, Caller caller, CancellationToken cancellationToken);

    /// <summary>Asks a run to cancel.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="reason">Why.</param>
    /// <param name="caller">Who asks.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The outcome.</returns>
    Task<CancelResult> CancelAsync(string runId, string? reason, Caller caller, CancellationToken cancellationToken);

    /// <summary>Starts a new run of an ended run's pinned definition and inputs.</summary>
    /// <param name="runId">The ended run.</param>
    /// <param name="fromStep">Reuse the results of the steps before this one.</param>
    /// <param name="caller">Who asks.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The new run.</returns>
    Task<StartedRun> RetryAsync(string runId, string? fromStep, Caller caller, CancellationToken cancellationToken);

    /// <summary>Lists accepted alerts that started no run (the journal), newest first.</summary>
    /// <param name="outcome">Only unmatched, invalid or no_run; null for all.</param>
    /// <param name="source">Only this source; null for all.</param>
    /// <param name="limit">The most returned.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The alerts.</returns>
    Task<IReadOnlyList<ReceivedAlertView>> ListAlertsAsync(string? outcome, string? source, int limit, CancellationToken cancellationToken);

    /// <summary>Lists guard keys with their breaker, cooldown, rate and live runs now.</summary>
    /// <param name="runbook">Only this runbook's guards.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The guards, by key.</returns>
    Task<IReadOnlyList<GuardView>> ListGuardsAsync(string? runbook, CancellationToken cancellationToken);

    /// <summary>Resets a guard (closes its breaker, ends its cooldown, forgets its counted runs); recorded with who and why.</summary>
    /// <param name="key">The guard key.</param>
    /// <param name="reason">Why (required).</param>
    /// <param name="caller">Who resets it.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The guard after the reset.</returns>
    Task<GuardView> ResetGuardAsync(string key, string reason, Caller caller, CancellationToken cancellationToken);

    /// <summary>Stores the report of a drill that was run, recorded with who ran it.</summary>
    /// <param name="report">The report: a drill's result as <c>runbook drill run --report json</c> prints it (drill, runbook, passed, checks, ...).</param>
    /// <param name="mode">How the drill ran: replay or live.</param>
    /// <param name="caller">Who ran it.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The stored report's summary, with its id.</returns>
    Task<DrillReportView> SaveDrillReportAsync(System.Text.Json.Nodes.JsonObject report, string mode, Caller caller, CancellationToken cancellationToken);

    /// <summary>
    /// Registers the scenario answers of a live drill that marks only some steps live: every run started for that
    /// drill until it ends (or <paramref name="lifetime"/> passes) answers its other steps from them.
    /// </summary>
    /// <param name="drill">The drill's name.</param>
    /// <param name="script">The answers (<c>{ live, steps, actions }</c>, as the run input's <c>drill_script</c>).</param>
    /// <param name="lifetime">How long they apply at most (1 minute to 7 days).</param>
    /// <param name="caller">Who registers them.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task RegisterLiveDrillAsync(string drill, System.Text.Json.Nodes.JsonObject script, TimeSpan lifetime, Caller caller, CancellationToken cancellationToken);

    /// <summary>Ends a live drill's registered answers: runs started afterwards for it run every action.</summary>
    /// <param name="drill">The drill's name.</param>
    /// <param name="caller">Who ends them.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task EndLiveDrillAsync(string drill, Caller caller, CancellationToken cancellationToken);

    /// <summary>Lists stored drill reports, newest first.</summary>
    /// <param name="drill">Only this drill, or null.</param>
    /// <param name="runbook">Only drills of this runbook, or null.</param>
    /// <param name="passed">Only passed (true) or failed (false) drills, or null.</param>
    /// <param name="limit">The most returned (1 to 10000).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The reports' summaries.</returns>
    Task<IReadOnlyList<DrillReportView>> ListDrillReportsAsync(string? drill, string? runbook, bool? passed, int limit, CancellationToken cancellationToken);

    /// <summary>Reads one stored drill report, whole.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The report.</returns>
    Task<DrillReportView> GetDrillReportAsync(long id, CancellationToken cancellationToken);
}
