using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Game-day drill reports.</content>
public sealed partial class SqliteWorkflowStore
{
    private const string DrillReportColumns = "id, at, drill, runbook, passed, actor, mode, report";

    /// <inheritdoc/>
    public Task<DrillReport> AppendDrillReportAsync(NewDrillReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        return WriteAsync(
            (c, tx) =>
            {
                var id = (long)Scalar(
                    c,
                    tx,
                    "INSERT INTO drill_reports (at, drill, runbook, passed, actor, mode, report) VALUES ($at, $drill, $runbook, $passed, $actor, $mode, $report) RETURNING id",
                    ("$at", SqliteTime.ToDb(report.At)),
                    ("$drill", report.Drill),
                    ("$runbook", report.Runbook),
                    ("$passed", report.Passed ? 1 : 0),
                    ("$actor", report.Actor),
                    ("$mode", report.Mode),
                    ("$report", report.Report))!;
                return new DrillReport(id, SqliteTime.FromDb(SqliteTime.ToDb(report.At)), report.Drill, report.Runbook, report.Passed, report.Actor, report.Mode, report.Report);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<DrillReport>> ListDrillReportsAsync(DrillReportQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync<IReadOnlyList<DrillReport>>(
            c => Query(
                c,
                null,
                $"SELECT {DrillReportColumns} FROM drill_reports WHERE ($drill IS NULL OR drill = $drill) AND ($runbook IS NULL OR runbook = $runbook) AND ($passed IS NULL OR passed = $passed) AND ($before IS NULL OR id < $before) ORDER BY id DESC LIMIT $n",
                MapDrillReport,
                ("$drill", query.Drill),
                ("$runbook", query.Runbook),
                ("$passed", query.Passed is { } p ? (p ? 1 : 0) : null),
                ("$before", query.BeforeId),
                ("$n", Math.Max(1, query.Limit))),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<DrillReport?> GetDrillReportAsync(long id, CancellationToken cancellationToken) =>
        ReadAsync(c => Query(c, null, $"SELECT {DrillReportColumns} FROM drill_reports WHERE id = $id", MapDrillReport, ("$id", id)).FirstOrDefault(), cancellationToken);

    private static DrillReport MapDrillReport(SqliteDataReader r) =>
        new(r.GetInt64(0), SqliteTime.FromDb(r.GetInt64(1)), r.GetString(2), r.GetString(3), r.GetInt64(4) != 0, r.GetString(5), r.GetString(6), r.GetString(7));
}
