using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server;

/// <summary>
/// Reads the store every <see cref="RunbookServerOptions.BacklogInterval"/> for the gauges: the backlog
/// (<c>runbook.queue.depth</c>, <c>runbook.queue.oldest_age</c>: whether the workers of each queue keep up; the
/// kernel only) and the circuit breakers (<c>runbook.guard.breaker</c>). A scrape reads the last sample: it never
/// queries the store.
/// </summary>
internal sealed partial class BacklogSampler(ServerContext context) : BackgroundService
{
    private static readonly ConcurrentDictionary<BacklogSampler, IReadOnlyList<QueueBacklog>> Samples = new();
    private static readonly ConcurrentDictionary<BacklogSampler, IReadOnlyList<Runbooks.Service.GuardView>> Breakers = new();

    private readonly ILogger logger = context.Loggers.CreateLogger("RunbookEngine.Server.Backlog");
    private readonly TimeProvider time = context.Time;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        Samples.TryRemove(this, out _);
        Breakers.TryRemove(this, out _);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        GC.KeepAlive(Telemetry.QueueDepth); // the gauges exist once a sampler runs, whether or not anything else was measured
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (context.Engine is null)
                {
                    // On Temporal the runs are Temporal's: its own metrics say what waits on a task queue.
                    Samples[this] = await context.Store.BacklogAsync(context.Time.GetUtcNow(), stoppingToken).ConfigureAwait(false);
                }

                Breakers[this] = [.. (await context.Service.ListGuardsAsync(null, stoppingToken).ConfigureAwait(false)).Where(g => g.Breaker is not null and not "none")];
                context.Options.Progress?.Invoke();
            }
            catch (WorkflowStoreException ex)
            {
                // The store is down: the last sample goes stale rather than wrong; /readyz says why.
                Samples.TryRemove(this, out _);
                Breakers.TryRemove(this, out _);
                LogUnavailable(logger, ex.Message);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(context.Options.BacklogInterval, context.Time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The last samples of every running server of this process: the depth, or with no selector the age of the oldest.</summary>
    internal static IEnumerable<Measurement<double>> Observe(Func<QueueBacklog, double>? value)
    {
        foreach (var (sampler, backlog) in Samples)
        {
            var now = sampler.time.GetUtcNow();
            foreach (var b in backlog)
            {
                yield return new Measurement<double>(
                    value?.Invoke(b) ?? Math.Max(0, (now - b.OldestDueAt).TotalSeconds),
                    new KeyValuePair<string, object?>("queue", b.Queue),
                    new KeyValuePair<string, object?>("kind", b.Kind));
            }
        }
    }

    /// <summary>Each declared breaker's state: 0 closed, 1 half-open, 2 open.</summary>
    internal static IEnumerable<Measurement<int>> ObserveBreakers()
    {
        foreach (var guard in Breakers.Values.SelectMany(g => g))
        {
            yield return new Measurement<int>(
                guard.Breaker!.StartsWith("open", StringComparison.Ordinal) ? 2 : guard.Breaker.StartsWith("half", StringComparison.Ordinal) ? 1 : 0,
                new KeyValuePair<string, object?>("runbook.workflow", guard.Runbook),
                new KeyValuePair<string, object?>("target", guard.Target ?? string.Empty));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "queue backlog not sampled: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
