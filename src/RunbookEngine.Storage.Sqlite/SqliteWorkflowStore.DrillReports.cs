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

    /// <inheritdoc/>
    public Task SetLiveDrillScriptAsync(LiveDrillScript script, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(script);
        return WriteAsync(
            (c, tx) => Exec(
                c,
                tx,
                "INSERT INTO live_drill_scripts (drill, script, actor, registered_at, expires_at) VALUES ($drill, $script, $actor, $at, $expires) ON CONFLICT (drill) DO UPDATE SET script = excluded.script, actor = excluded.actor, registered_at = excluded.registered_at, expires_at = excluded.expires_at",
                ("$drill", script.Drill),
                ("$script", script.Script),
                ("$actor", script.Actor),
                ("$at", SqliteTime.ToDb(script.RegisteredAt)),
                ("$expires", SqliteTime.ToDb(script.ExpiresAt))),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<LiveDrillScript?> GetLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken) =>
        ReadAsync(
            c => Query(
                c,
                null,
                "SELECT drill, script, actor, registered_at, expires_at FROM live_drill_scripts WHERE drill = $drill AND expires_at > $now",
                static (SqliteDataReader r) => new LiveDrillScript(r.GetString(0), r.GetString(1), r.GetString(2), SqliteTime.FromDb(r.GetInt64(3)), SqliteTime.FromDb(r.GetInt64(4))),
                ("$drill", drill),
                ("$now", SqliteTime.ToDb(now))).FirstOrDefault(),
            cancellationToken);

    /// <inheritdoc/>
    public Task EndLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync((c, tx) => Exec(c, tx, "DELETE FROM live_drill_scripts WHERE drill = $drill OR expires_at <= $now", ("$drill", drill), ("$now", SqliteTime.ToDb(now))), cancellationToken);
}
