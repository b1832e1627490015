using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks.Service;

/// <summary>
/// Keeps the store bounded (<c>runbook prune</c>, <c>runbook serve --retention</c>): removes finished runs and
/// journal entries older than a cutoff, a batch per transaction, so running work goes on between batches.
/// </summary>
/// <remarks>
/// Each pruned run leaves a tombstone (see <see cref="IRetentionStore"/>); live runs (ready, running, waiting) are
/// never touched, whatever their age. A prune stopped half-way (Ctrl-C, a crash) has removed whole batches only
/// and is simply run again.
/// </remarks>
public sealed class StorePruner
{
    private readonly IRetentionStore store;
    private readonly TimeProvider clock;

    /// <summary>Initializes a new instance of the <see cref="StorePruner"/> class.</summary>
    /// <param name="store">The store.</param>
    /// <param name="clock">The clock the cutoff is taken from.</param>
    public StorePruner(IRetentionStore store, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        this.store = store;
        this.clock = clock ?? TimeProvider.System;
    }

    /// <summary>Prunes, or counts in a dry run.</summary>
    /// <param name="request">What to prune.</param>
    /// <param name="progress">Told the totals so far after each batch, or null.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>What was removed.</returns>
    /// <exception cref="ArgumentException">The retention is shorter than <see cref="PruneRequest.Minimum"/>, or the batch size is not positive.</exception>
    public async Task<PruneReport> PruneAsync(PruneRequest request, IProgress<PruneReport>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.OlderThan < PruneRequest.Minimum)
        {
            throw new ArgumentException($"a retention of {Workflows.Durations.Format(request.OlderThan)} is shorter than the minimum {Workflows.Durations.Format(PruneRequest.Minimum)}: guards and follow-ups look back that far", nameof(request));
        }

        if (request.BatchSize < 1)
        {
            throw new ArgumentException($"the batch size must be at least 1 (got {request.BatchSize})", nameof(request));
        }

        var cutoff = clock.GetUtcNow() - request.OlderThan;
        var count = await store.CountPrunableAsync(cutoff, cancellationToken).ConfigureAwait(false);
        if (request.DryRun)
        {
            return new PruneReport(cutoff, true, request.Runs ? count.Runs : 0, request.Runs ? count.Events : 0, request.Journal ? count.JournalEntries : 0, count.HeldByGuards, 0, 0);
        }

        var report = new PruneReport(cutoff, false, 0, 0, 0, count.HeldByGuards, 0, 0);
        while (request.Runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IReadOnlyList<string>? only = null;
            var exported = 0;
            if (request.Export is { } export)
            {
                var candidates = await store.ListPrunableRunsAsync(cutoff, request.BatchSize, cancellationToken).ConfigureAwait(false);
                foreach (var run in candidates)
                {
                    await export(run, cancellationToken).ConfigureAwait(false);
                    exported++;
                }

                only = [.. candidates.Select(r => r.RunId)];
                if (only.Count == 0)
                {
                    break;
                }
            }

            var pruned = await store.PruneRunsAsync(new RunPruning(cutoff, request.BatchSize, request.Actor, clock.GetUtcNow()) { RunIds = only }, cancellationToken).ConfigureAwait(false);
            if (pruned.Count == 0)
            {
                break; // nothing left, or (PostgreSQL) every candidate is locked by a client right now: the next prune takes it
            }

            report = report with { Runs = report.Runs + pruned.Count, Events = report.Events + pruned.Sum(p => p.TimelineSequence), Exported = report.Exported + exported, Batches = report.Batches + 1 };
            progress?.Report(report);
        }

        while (request.Journal)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var removed = await store.PruneJournalAsync(new JournalPruning(cutoff, request.BatchSize * 10, request.Actor, clock.GetUtcNow()), cancellationToken).ConfigureAwait(false);
            if (removed == 0)
            {
                break;
            }

            report = report with { JournalEntries = report.JournalEntries + removed, Batches = report.Batches + 1 };
            progress?.Report(report);
        }

        return report;
    }
}
