using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

namespace RunbookEngine.Server;

/// <summary>
/// <c>runbook serve --retention 30d</c>: prunes finished runs and journal entries older than the retention, a
/// minute after start and then every <see cref="RunbookServerOptions.RetentionInterval"/>. Several servers sharing
/// a PostgreSQL store may all do it: batches skip what another holds, and a run is pruned once.
/// </summary>
internal sealed partial class RetentionService(ServerContext context) : BackgroundService
{
    /// <summary>Who the tombstones say pruned the runs.</summary>
    public const string Actor = "system:retention";

    private readonly ILogger logger = context.Loggers.CreateLogger("RunbookEngine.Server.Retention");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retention = context.Options.Retention!.Value;
        var pruner = new StorePruner(context.Store, context.Time);
        var wait = TimeSpan.FromMinutes(1); // not at the very start: a restart loop must not prune in a loop
        while (true)
        {
            try
            {
                await Task.Delay(wait, context.Time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            wait = context.Options.RetentionInterval;
            try
            {
                // On Temporal the runs are Temporal's (its namespace retention); the journal is ours either way.
                var report = await pruner.PruneAsync(new PruneRequest(retention, Actor) { Runs = context.Engine is null }, null, stoppingToken).ConfigureAwait(false);
                if (report.Runs > 0 || report.JournalEntries > 0)
                {
                    LogPruned(logger, report.Runs, report.Events, report.JournalEntries, Durations.Format(retention));
                }
            }
            catch (WorkflowStoreException ex)
            {
                LogFailed(logger, ex.Message);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "retention: pruned {Runs} finished runs ({Events} events) and {Entries} journal entries older than {Retention}")]
    private static partial void LogPruned(ILogger logger, long runs, long events, long entries, string retention);

    [LoggerMessage(Level = LogLevel.Warning, Message = "retention: prune failed, tried again at the next interval: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
