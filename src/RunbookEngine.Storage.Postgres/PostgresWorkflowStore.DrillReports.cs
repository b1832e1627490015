using Npgsql;
using NpgsqlTypes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>Game-day drill reports.</content>
public sealed partial class PostgresWorkflowStore
{
    private const string DrillReportColumns = "id, at, drill, runbook, passed, actor, mode, report";

    /// <inheritdoc/>
    public Task<DrillReport> AppendDrillReportAsync(NewDrillReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        return WriteAsync(
            async db =>
            {
                var rows = await db.QueryAsync(
                    $"INSERT INTO drill_reports (at, drill, runbook, passed, actor, mode, report) VALUES (@at, @drill, @runbook, @passed, @actor, @mode, @report) RETURNING {DrillReportColumns}",
                    MapDrillReport,
                    Db.P("at", report.At),
                    Db.P("drill", report.Drill),
                    Db.P("runbook", report.Runbook),
                    Db.P("passed", report.Passed),
                    Db.P("actor", report.Actor),
                    Db.P("mode", report.Mode),
                    Db.P("report", report.Report)).ConfigureAwait(false);
                return rows[0];
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<DrillReport>> ListDrillReportsAsync(DrillReportQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync<IReadOnlyList<DrillReport>>(
            async db => await db.QueryAsync(
                $"SELECT {DrillReportColumns} FROM drill_reports WHERE (@drill::text IS NULL OR drill = @drill) AND (@runbook::text IS NULL OR runbook = @runbook) AND (@passed::boolean IS NULL OR passed = @passed) AND (@before::bigint IS NULL OR id < @before) ORDER BY id DESC LIMIT @n",
                MapDrillReport,
                Db.P("drill", query.Drill),
                Db.P("runbook", query.Runbook),
                new NpgsqlParameter("passed", NpgsqlDbType.Boolean) { Value = (object?)query.Passed ?? DBNull.Value },
                new NpgsqlParameter("before", NpgsqlDbType.Bigint) { Value = (object?)query.BeforeId ?? DBNull.Value },
                Db.P("n", Math.Max(1, query.Limit))).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<DrillReport?> GetDrillReportAsync(long id, CancellationToken cancellationToken) =>
        ReadAsync(
            async db => (await db.QueryAsync($"SELECT {DrillReportColumns} FROM drill_reports WHERE id = @id", MapDrillReport, Db.P("id", id)).ConfigureAwait(false)).FirstOrDefault(),
            cancellationToken);

    private static DrillReport MapDrillReport(NpgsqlDataReader r) =>
        new(r.GetInt64(0), Time(r, 1), r.GetString(2), r.GetString(3), r.GetBoolean(4), r.GetString(5), r.GetString(6), r.GetString(7));

    /// <inheritdoc/>
    public Task SetLiveDrillScriptAsync(LiveDrillScript script, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(script);
        return WriteAsync(
            db => db.ExecAsync(
                "INSERT INTO live_drill_scripts (drill, script, actor, registered_at, expires_at) VALUES (@drill, @script, @actor, @at, @expires) ON CONFLICT (drill) DO UPDATE SET script = excluded.script, actor = excluded.actor, registered_at = excluded.registered_at, expires_at = excluded.expires_at",
                Db.P("drill", script.Drill),
                Db.P("script", script.Script),
                Db.P("actor", script.Actor),
                Db.P("at", script.RegisteredAt),
                Db.P("expires", script.ExpiresAt)),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<LiveDrillScript?> GetLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken) =>
        ReadAsync(
            async db => (await db.QueryAsync(
                "SELECT drill, script, actor, registered_at, expires_at FROM live_drill_scripts WHERE drill = @drill AND expires_at > @now",
                static (NpgsqlDataReader r) => new LiveDrillScript(r.GetString(0), r.GetString(1), r.GetString(2), Time(r, 3), Time(r, 4)),
                Db.P("drill", drill),
                Db.P("now", now)).ConfigureAwait(false)).FirstOrDefault(),
            cancellationToken);

    /// <inheritdoc/>
    public Task EndLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(db => db.ExecAsync("DELETE FROM live_drill_scripts WHERE drill = @drill OR expires_at <= @now", Db.P("drill", drill), Db.P("now", now)), cancellationToken);
}
