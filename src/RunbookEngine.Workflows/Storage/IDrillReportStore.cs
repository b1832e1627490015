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
}
