using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Testing;

/// <content>Retention: pruning finished runs and the journal.</content>
public abstract partial class WorkflowStoreCompliance
{
    [Fact]
    public async Task Prune_removes_old_finished_runs_whole_leaves_a_tombstone_and_never_touches_live_or_recent_runs()
    {
        var two = H.Registry.Add("two", async ctx =>
        {
            await ctx.StepAsync("a", _ => Task.FromResult(1));
            await ctx.StepAsync("b", _ => Task.FromResult(2));
            return null;
        });
        var waits = H.Registry.Add("waits", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            await ctx.StepAsync("after", _ => Task.FromResult(3));
            return null;
        });
        var fails = H.Registry.Add("fails", _ => throw new StepException("Boom", "no", nonRetryable: true));

        // Old: a completed run, a signalled (so it has a consumed signal) completed run, a failed run; a waiting run
        // started as long ago; then, 40 days on, a recent completed run.
        var old = (await H.Client.StartAsync(two, new StartRunOptions { Actor = "user:alice" })).Run;
        var signalled = (await H.Client.StartAsync(waits)).Run;
        var failed = (await H.Client.StartAsync(fails)).Run;
        var live = (await H.Client.StartAsync(waits)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        await H.Client.SignalAsync(signalled.RunId, "go", new JsonObject { ["by"] = "x" }, "user:bob");
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Completed, (await H.RunAsync(signalled.RunId)).Status);
        var oldTimeline = await H.TimelineAsync(old.RunId);
        H.Time.Advance(TimeSpan.FromDays(40));
        var recent = (await H.Client.StartAsync(two)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        var cutoff = H.Time.GetUtcNow() - TimeSpan.FromDays(30);

        var count = await H.Store.CountPrunableAsync(cutoff, CancellationToken.None);
        Assert.Equal(3, count.Runs);
        var threeOld = new[] { old.RunId, signalled.RunId, failed.RunId };
        long events = 0;
        foreach (var id in threeOld)
        {
            events += (await H.TimelineAsync(id)).Count;
        }

        Assert.Equal(events, count.Events);
        Assert.Equal(0, count.HeldByGuards);
        Assert.Equal(threeOld.Order(), (await H.Store.ListPrunableRunsAsync(cutoff, 10, CancellationToken.None)).Select(r => r.RunId).Order());

        // Batches: the oldest ended first, as many as the limit, until none is left.
        var pruning = new RunPruning(cutoff, 2, "user:ops", H.Time.GetUtcNow());
        var first = await H.Store.PruneRunsAsync(pruning, CancellationToken.None);
        var second = await H.Store.PruneRunsAsync(pruning, CancellationToken.None);
        Assert.Equal(2, first.Count);
        Assert.Single(second);
        Assert.Empty(await H.Store.PruneRunsAsync(pruning, CancellationToken.None));
        Assert.Equal(threeOld.Order(), first.Concat(second).Select(p => p.RunId).Order());

        foreach (var id in threeOld)
        {
            Assert.Null(await H.Store.GetRunAsync(id, CancellationToken.None));
            Assert.Empty(await H.TimelineAsync(id));
        }

        // The tombstone ends where the run's hash chain ended, so an export made before can be checked.
        var tomb = (await H.Store.GetPrunedRunAsync(old.RunId, CancellationToken.None))!;
        Assert.Equal(("two", RunStatus.Completed, "user:ops"), (tomb.WorkflowName, tomb.Status, tomb.PrunedBy));
        Assert.Equal(oldTimeline[^1].Sequence, tomb.TimelineSequence);
        Assert.Equal(oldTimeline[^1].Hash, tomb.TimelineHash);
        Assert.Equal(H.Time.GetUtcNow().ToUnixTimeMilliseconds(), tomb.PrunedAt.ToUnixTimeMilliseconds());
        Assert.Equal(RunStatus.Failed, (await H.Store.GetPrunedRunAsync(failed.RunId, CancellationToken.None))!.Status);
        Assert.Null(await H.Store.GetPrunedRunAsync(recent.RunId, CancellationToken.None));

        // What is kept is untouched: the live run still waits and finishes, both chains verify.
        Assert.Equal([live.RunId, recent.RunId], (await H.Client.ListRunsAsync()).Select(r => r.RunId).Order());
        Assert.Null(TimelineChain.Verify(await H.TimelineAsync(recent.RunId)));
        Assert.Equal(SignalOutcome.Delivered, await H.Client.SignalAsync(live.RunId, "go", null, "user:carol"));
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Completed, (await H.RunAsync(live.RunId)).Status);
        Assert.Null(TimelineChain.Verify(await H.TimelineAsync(live.RunId)));

        // A run that ended recently is not pruned even when named; a pruned id is never used again.
        Assert.Empty(await H.Store.PruneRunsAsync(pruning with { RunIds = [recent.RunId, live.RunId, old.RunId] }, CancellationToken.None));
        var reuse = await Assert.ThrowsAsync<WorkflowStoreException>(() => H.Client.StartAsync(two, new StartRunOptions { RunId = old.RunId }));
        Assert.Contains("pruned", reuse.Message, StringComparison.Ordinal);
        Assert.Equal(SignalOutcome.RunNotFound, await H.Client.SignalAsync(old.RunId, "go", null, "user:carol"));
    }

    [Fact]
    public async Task Prune_by_run_ids_removes_only_those_still_eligible()
    {
        var one = H.Registry.Add("one", async ctx => JsonValue.Create(await ctx.StepAsync("a", _ => Task.FromResult(1))));
        var a = (await H.Client.StartAsync(one)).Run;
        var b = (await H.Client.StartAsync(one)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        H.Time.Advance(TimeSpan.FromDays(2));

        var pruned = await H.Store.PruneRunsAsync(new RunPruning(H.Time.GetUtcNow() - TimeSpan.FromDays(1), 10, "user:ops", H.Time.GetUtcNow()) { RunIds = [b.RunId, "no-such-run"] }, CancellationToken.None);

        Assert.Equal([b.RunId], pruned.Select(p => p.RunId));
        Assert.NotNull(await H.Store.GetRunAsync(a.RunId, CancellationToken.None));
        Assert.Null(await H.Store.GetRunAsync(b.RunId, CancellationToken.None));
    }

    [Fact]
    public async Task Prune_keeps_an_ended_run_until_its_guard_has_counted_it()
    {
        var fails = H.Registry.Add("fails", _ => throw new StepException("Boom", "no", nonRetryable: true));
        var seen = new List<GuardContext>();
        var r1 = (await H.Client.StartAsync(fails, new StartRunOptions { Guard = OneLive("fails/db", seen) })).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        H.Time.Advance(TimeSpan.FromDays(40));
        var cutoff = H.Time.GetUtcNow() - TimeSpan.FromDays(30);

        var count = await H.Store.CountPrunableAsync(cutoff, CancellationToken.None);
        Assert.Equal((0L, 1L), (count.Runs, count.HeldByGuards));
        Assert.Empty(await H.Store.PruneRunsAsync(new RunPruning(cutoff, 10, "user:ops", H.Time.GetUtcNow()), CancellationToken.None));

        // The next start of the key is shown the failure (so a breaker counts it); after that the run may go.
        await H.Client.StartAsync(fails, new StartRunOptions { Guard = OneLive("fails/db", seen) });
        Assert.Equal([r1.RunId], seen[^1].Ended.Select(r => r.RunId));
        Assert.Equal([r1.RunId], (await H.Store.PruneRunsAsync(new RunPruning(cutoff, 10, "user:ops", H.Time.GetUtcNow()), CancellationToken.None)).Select(p => p.RunId));
    }

    [Fact]
    public async Task Prune_removes_old_journal_entries_in_batches_and_keeps_the_recent()
    {
        var t0 = H.Time.GetUtcNow();
        await H.Store.AppendJournalAsync(
            [
                new NewJournalEntry(t0, "alertmanager", "unmatched", "Old1", null),
                new NewJournalEntry(t0 + TimeSpan.FromSeconds(1), "alertmanager", "unmatched", "Old2", null),
                new NewJournalEntry(t0 + TimeSpan.FromSeconds(2), "grafana", "invalid", "Old3", "{\"x\":1}"),
            ],
            CancellationToken.None);
        await H.Store.AppendJournalAsync([new NewJournalEntry(t0 + TimeSpan.FromDays(40), "alertmanager", "unmatched", "Recent", null)], CancellationToken.None);
        var cutoff = t0 + TimeSpan.FromDays(10);
        Assert.Equal(3, (await H.Store.CountPrunableAsync(cutoff, CancellationToken.None)).JournalEntries);

        var pruning = new JournalPruning(cutoff, 2, "user:ops", t0 + TimeSpan.FromDays(40));
        Assert.Equal(2, await H.Store.PruneJournalAsync(pruning, CancellationToken.None));
        Assert.Equal(1, await H.Store.PruneJournalAsync(pruning, CancellationToken.None));
        Assert.Equal(0, await H.Store.PruneJournalAsync(pruning, CancellationToken.None));

        Assert.Equal(["Recent"], (await H.Store.ListJournalAsync(new JournalQuery(), CancellationToken.None)).Select(e => e.Subject));
        await H.Store.AppendJournalAsync([new NewJournalEntry(t0 + TimeSpan.FromDays(41), "grafana", "unmatched", "After", null)], CancellationToken.None);
        Assert.Equal(["After", "Recent"], (await H.Store.ListJournalAsync(new JournalQuery(), CancellationToken.None)).Select(e => e.Subject));
    }
}
