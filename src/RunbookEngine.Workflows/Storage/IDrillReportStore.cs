namespace RunbookEngine.Workflows.Storage;

/// <summary>Where game-day drill reports are kept: the same store as the runs, so a server lists what any CLI stored.</summary>
public interface IDrillReportStore
{
    /// <summary>Stores a drill's report.</summary>
    /// <param name="report">The report.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The stored report with its id.</returns>
    Task<DrillReport> AppendDrillReportAsync(NewDrillReport report, CancellationToken cancellationToken);

    /// <summary>Lists drill reports, newest first.</summary>
    /// <param name="query">Which.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The reports.</returns>
    Task<IReadOnlyList<DrillReport>> ListDrillReportsAsync(DrillReportQuery query, CancellationToken cancellationToken);

    /// <summary>Reads one drill report.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The report, or null when there is none with that id.</returns>
    Task<DrillReport?> GetDrillReportAsync(long id, CancellationToken cancellationToken);

    /// <summary>
    /// Registers (or replaces) the scenario answers of a live drill that marks only some steps live: a run started
    /// for that drill while it is registered carries them in its input.
    /// </summary>
    /// <param name="script">The drill's answers.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task SetLiveDrillScriptAsync(LiveDrillScript script, CancellationToken cancellationToken);

    /// <summary>Reads the registered answers of a live drill.</summary>
    /// <param name="drill">The drill's name.</param>
    /// <param name="now">Now: answers past their expiry are not returned.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The answers, or null.</returns>
    Task<LiveDrillScript?> GetLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes a live drill's answers (its drill ended), and every registration that expired.</summary>
    /// <param name="drill">The drill's name.</param>
    /// <param name="now">Now.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task EndLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken);
}
