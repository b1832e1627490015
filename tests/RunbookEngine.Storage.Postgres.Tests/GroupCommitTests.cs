using System.Collections.Concurrent;
using Npgsql;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// Worker commits of many runs written together as multi-row statements (the fast way), and the slow way they
/// fall back to when a run changed under them: same outcomes, same hash chains, refusals only where due.
/// </summary>
public sealed class GroupCommitTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Commits_of_many_runs_share_transactions_and_every_timeline_stays_chained()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync(o => o with { Writers = 1, Listen = false });
        var h = new Harness(store, new ManualTimeProvider(T0));
        var executed = new ConcurrentDictionary<string, int>();
        var ids = await StartSummingRunsAsync(h, steps: 5, runs: 40, executed);

        await h.Worker("w1", new WorkerOptions { MaxConcurrentRuns = 40 }).RunUntilIdleAsync(CancellationToken.None);

        await AssertEveryRunSummedOnceAsync(pg, h, ids, steps: 5, executed);

        // 40 runs x (5 step commits + the end) = 240 commits, written together far more often than not.
        Assert.Equal(240, store.GroupedCommits + store.SingleCommits);
        Assert.True(store.GroupedCommits > 200, $"only {store.GroupedCommits} of 240 commits went the fast way");
        Assert.True(store.Transactions < 200, $"{store.Transactions} transactions for 240 commits: nothing was grouped");
    }

    [Fact]
    public async Task Helper_writers_take_over_a_backlog_and_every_commit_lands_once_in_order()
    {
        // With batches of one, every queued write is a full batch: the helper writers wake for each, write side by
        // side with the first writer, and all of them stop when the store closes.
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync(o => o with { Writers = 4, MaxBatchSize = 1, Listen = false });
        var h = new Harness(store, new ManualTimeProvider(T0));
        var executed = new ConcurrentDictionary<string, int>();
        var ids = await StartSummingRunsAsync(h, steps: 3, runs: 30, executed);

        await h.Worker("w1", new WorkerOptions { MaxConcurrentRuns = 30 }).RunUntilIdleAsync(CancellationToken.None);

        await AssertEveryRunSummedOnceAsync(pg, h, ids, steps: 3, executed);
        Assert.Equal(120, store.GroupedCommits + store.SingleCommits); // 30 runs x (3 steps + the end)
        await store.DisposeAsync(); // the helpers, asleep or writing, stop with it
    }

    [Fact]
    public async Task A_claim_is_not_held_up_by_a_commit_of_the_same_process_that_waits_on_a_lock()
    {
        // Claims go beside the writers, not through them: a commit stuck behind another session's lock on its run
        // keeps the (one) writer busy, and the workers of the process still get new work meanwhile.
        await using var pg = await PgTest.CreateAsync();
        var store = await OpenWithRunClaimedByW1Async(pg);
        await store.StartRunAsync(NewRun("r2"), CancellationToken.None);
        await using var blocker = await pg.Sql.OpenConnectionAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT 1 FROM runs WHERE run_id = 'r1' FOR UPDATE", blocker, tx))
        {
            await hold.ExecuteScalarAsync();
        }

        var commit = store.CommitAsync(StepCommit("r1", "w1", 1), CancellationToken.None);
        var claimed = await store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 5, T0.AddSeconds(2), TimeSpan.FromSeconds(30)), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("r2", Assert.Single(claimed).Run.RunId);
        Assert.False(commit.IsCompleted, "the commit did not wait for the lock: the test proves nothing");
        await tx.RollbackAsync();
        await commit.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r1'"));
        Assert.Equal("w1", await pg.ScalarAsync<string>("SELECT lease_owner FROM runs WHERE run_id = 'r2'"));
    }

    [Fact]
    public async Task A_claim_whose_connection_breaks_before_the_database_saw_it_is_retried_and_claims_once()
    {
        await using var pg = await PgTest.CreateAsync();
        await using var proxy = new BreakingProxy(pg.Cluster.Port);
        var store = await OpenWithRunAsync(pg, proxy.ConnectionString);

        var cut = proxy.CutBeforeNextRequest();
        var claimed = await store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 5, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None);

        Assert.True(cut.IsCompleted, "the connection was not broken: the test proves nothing");
        Assert.Equal(1L, store.TransientFailures);
        Assert.Equal("r1", Assert.Single(claimed).Run.RunId);
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM timeline WHERE run_id = 'r1' AND kind = 'run.claimed'"));
    }

    [Fact]
    public async Task A_claim_whose_connection_breaks_after_the_database_committed_it_is_reported_uncertain_and_recovered_when_its_lease_expires()
    {
        await using var pg = await PgTest.CreateAsync();
        await using var proxy = new BreakingProxy(pg.Cluster.Port);
        var store = await OpenWithRunAsync(pg, proxy.ConnectionString);

        var cut = proxy.CutAfterNextCommit();
        var uncertain = await Assert.ThrowsAsync<WorkflowStoreException>(
            () => store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 5, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None));

        Assert.True(cut.IsCompleted, "the connection was not broken: the test proves nothing");
        Assert.Contains("may or may not have been applied", uncertain.Message, StringComparison.Ordinal);
        Assert.Equal("w1", await pg.ScalarAsync<string>("SELECT lease_owner FROM runs WHERE run_id = 'r1'")); // it was in fact applied, and not twice
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM timeline WHERE run_id = 'r1' AND kind = 'run.claimed'"));

        // No one gets the run while that lease holds; once it expires, a claim recovers it.
        Assert.Empty(await store.ClaimRunsAsync(new ClaimRequest("w2", ["default"], 5, T0.AddSeconds(2), TimeSpan.FromSeconds(30)), CancellationToken.None));
        var recovered = Assert.Single(await store.ClaimRunsAsync(new ClaimRequest("w2", ["default"], 5, T0.AddSeconds(32), TimeSpan.FromSeconds(30)), CancellationToken.None));
        Assert.Equal(("r1", "w1"), (recovered.Run.RunId, recovered.PreviousOwner));
    }

    [Fact]
    public async Task A_commit_to_a_run_someone_else_wrote_to_goes_the_slow_way_and_chains_after_that_write()
    {
        await using var pg = await PgTest.CreateAsync();
        var worker = await pg.OpenAsync(o => o with { Listen = false });
        var other = await pg.OpenAsync(o => o with { Listen = false });
        await worker.StartRunAsync(NewRun("r1"), CancellationToken.None);
        Assert.Single(await worker.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 1, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None));

        // Another process appends to the run's timeline (an approval, a cancel request, a signal do).
        await other.AppendTimelineAsync("r1", new NewTimelineEvent(T0.AddSeconds(2), "user:alice", "note.added", null), CancellationToken.None);
        await worker.CommitAsync(StepCommit("r1", "w1", 1), CancellationToken.None);

        Assert.Equal(0, worker.GroupedCommits);
        Assert.Equal(1, worker.SingleCommits);
        var timeline = await worker.GetTimelineAsync("r1", 0, 100, CancellationToken.None);
        Assert.Null(TimelineChain.Verify(timeline));
        Assert.Equal(["note.added", "step.completed"], timeline.TakeLast(2).Select(e => e.Kind));

        // The slow way left the head known again: the next commit goes the fast way.
        await worker.CommitAsync(StepCommit("r1", "w1", 2), CancellationToken.None);
        Assert.Equal(1, worker.GroupedCommits);
        Assert.Null(TimelineChain.Verify(await worker.GetTimelineAsync("r1", 0, 100, CancellationToken.None)));
        Assert.Equal(2L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r1'"));
    }

    [Fact]
    public async Task A_lost_lease_in_a_group_refuses_only_that_commit()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync(o => o with { Writers = 1, Listen = false });
        var ids = Enumerable.Range(1, 6).Select(i => $"r{i}").ToList();
        foreach (var id in ids)
        {
            await store.StartRunAsync(NewRun(id), CancellationToken.None);
        }

        Assert.Equal(6, (await store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 6, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None)).Count);

        // r4 was taken over by another worker after w1's lease expired (as a claim of the other worker would).
        await using (var take = pg.Sql.CreateCommand("UPDATE runs SET lease_owner = 'w2' WHERE run_id = 'r4'"))
        {
            await take.ExecuteNonQueryAsync();
        }

        // Queued together, so that one writer takes them as one group.
        var commits = ids.Select(id => store.CommitAsync(StepCommit(id, "w1", 1), CancellationToken.None)).ToList();
        var outcomes = await Task.WhenAll(commits.Select(async c =>
        {
            try
            {
                await c;
                return null;
            }
            catch (LeaseLostException ex)
            {
                return ex;
            }
        }));

        Assert.Null(outcomes[0]);
        Assert.NotNull(outcomes[3]);
        Assert.Contains("w1 no longer holds the lease of run r4", outcomes[3]!.Message, StringComparison.Ordinal);
        Assert.Equal(5, outcomes.Count(o => o is null));
        Assert.Equal(0L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r4'"));
        Assert.Equal(5L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps"));
        foreach (var id in ids)
        {
            Assert.Null(TimelineChain.Verify(await store.GetTimelineAsync(id, 0, 100, CancellationToken.None)));
        }
    }

    [Fact]
    public async Task A_step_position_already_taken_refuses_the_commit_with_the_run_named_and_nothing_of_it_applied()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await OpenWithRunClaimedByW1Async(pg);
        await store.CommitAsync(StepCommit("r1", "w1", 1), CancellationToken.None);
        var before = (await store.GetTimelineAsync("r1", 0, 100, CancellationToken.None)).Count;

        var twice = await Assert.ThrowsAsync<LeaseLostException>(() => store.CommitAsync(StepCommit("r1", "w1", 1), CancellationToken.None));

        Assert.Contains("Position 1 of run r1 was already recorded", twice.Message, StringComparison.Ordinal);
        Assert.Equal(before, (await store.GetTimelineAsync("r1", 0, 100, CancellationToken.None)).Count);
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps"));
    }

    [Theory]
    [InlineData("UPDATE runs SET lease_owner = 'w2'")] // another worker took the lease over, head unchanged
    [InlineData("UPDATE runs SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL")] // the run was released
    [InlineData("UPDATE runs SET status = 'cancelled'")] // the run ended: the status alone refuses the write
    public async Task A_lone_commit_the_fast_way_is_refused_when_its_lease_is_gone_and_nothing_of_it_is_applied(string change)
    {
        // A group of one has a fencing statement of its own (single values, one plan): it must refuse the same.
        await using var pg = await PgTest.CreateAsync();
        var store = await OpenWithRunClaimedByW1Async(pg);
        await store.CommitAsync(StepCommit("r1", "w1", 1), CancellationToken.None);
        Assert.Equal(1, store.GroupedCommits); // the head is known: the next commit tries the fast way
        var events = await pg.ScalarAsync<long>("SELECT count(*) FROM timeline");
        await using (var cmd = pg.Sql.CreateCommand(change + " WHERE run_id = 'r1'"))
        {
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var refused = await Assert.ThrowsAsync<LeaseLostException>(() => store.CommitAsync(StepCommit("r1", "w1", 2), CancellationToken.None));

        Assert.Contains("w1 no longer holds the lease of run r1", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.GroupedCommits);
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps"));
        Assert.Equal(events, await pg.ScalarAsync<long>("SELECT count(*) FROM timeline"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task A_commit_renews_the_run_lease_once_half_of_it_is_gone_and_not_before(int runs)
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync(o => o with { Writers = 1, Listen = false });
        var ids = Enumerable.Range(1, runs).Select(i => $"r{i}").ToList();
        foreach (var id in ids)
        {
            await store.StartRunAsync(NewRun(id), CancellationToken.None);
        }

        Assert.Equal(runs, (await store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], runs, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None)).Count);
        async Task<DateTime[]> LeasesAsync()
        {
            await using var cmd = pg.Sql.CreateCommand("SELECT lease_expires_at FROM runs ORDER BY run_id");
            await using var r = await cmd.ExecuteReaderAsync();
            var leases = new List<DateTime>();
            while (await r.ReadAsync())
            {
                leases.Add(r.GetDateTime(0));
            }

            return [.. leases];
        }

        // 28 of 30 seconds left: the renewal to 33 s is skipped (one write fewer).
        await Task.WhenAll(ids.Select(id => store.CommitAsync(StepCommit(id, "w1", 1, T0.AddSeconds(3)), CancellationToken.None)));
        Assert.All(await LeasesAsync(), l => Assert.Equal(T0.AddSeconds(31).UtcDateTime, l));

        // 11 of 30 seconds left: renewed to 50 s.
        await Task.WhenAll(ids.Select(id => store.CommitAsync(StepCommit(id, "w1", 2, T0.AddSeconds(20)), CancellationToken.None)));
        Assert.All(await LeasesAsync(), l => Assert.Equal(T0.AddSeconds(50).UtcDateTime, l));
        Assert.Equal(2 * runs, store.GroupedCommits);
    }

    [Fact]
    public async Task A_commit_to_a_run_that_does_not_exist_is_refused_and_writes_no_step_or_event()
    {
        // Steps and events have no foreign key to their run (migration 5): the fencing check alone keeps orphans out.
        await using var pg = await PgTest.CreateAsync();
        var store = await OpenWithRunClaimedByW1Async(pg);
        var events = await pg.ScalarAsync<long>("SELECT count(*) FROM timeline");

        var refused = await Assert.ThrowsAsync<LeaseLostException>(() => store.CommitAsync(StepCommit("no-such-run", "w1", 1), CancellationToken.None));

        Assert.Contains("run no-such-run", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps"));
        Assert.Equal(events, await pg.ScalarAsync<long>("SELECT count(*) FROM timeline"));
        Assert.Equal(0L, await pg.ScalarAsync<long>("SELECT count(*) FROM timeline WHERE run_id = 'no-such-run'"));
    }

    [Fact]
    public async Task A_group_whose_connection_breaks_after_the_database_committed_it_is_completed_not_written_twice()
    {
        await using var pg = await PgTest.CreateAsync();
        await using var proxy = new BreakingProxy(pg.Cluster.Port);
        var store = await SecondCommitThroughABreakAsync(pg, proxy, p => p.CutAfterNextCommit());

        Assert.Equal(1, proxy.Cuts);
        await AssertStepsWrittenOnceAsync(pg, store, 2);

        // The head the group wrote is the one remembered: the next commit goes the fast way again and chains on.
        var grouped = store.GroupedCommits;
        await store.CommitAsync(StepCommit("r1", "w1", 3), CancellationToken.None);
        Assert.Equal(grouped + 1, store.GroupedCommits);
        await AssertStepsWrittenOnceAsync(pg, store, 3);
    }

    [Fact]
    public async Task A_group_whose_connection_breaks_before_the_database_saw_it_is_written_the_transactional_way()
    {
        await using var pg = await PgTest.CreateAsync();
        await using var proxy = new BreakingProxy(pg.Cluster.Port);
        var store = await SecondCommitThroughABreakAsync(pg, proxy, p => p.CutBeforeNextRequest());

        Assert.Equal(0L, store.SingleCommits); // the head was still the old one: applied again as a group, in a transaction
        await AssertStepsWrittenOnceAsync(pg, store, 2);
    }

    [Fact]
    public async Task A_group_commit_without_events_whose_connection_breaks_after_commit_is_reported_uncertain_and_the_run_reread()
    {
        // Only events move a run's head, so a commit without any leaves nothing to tell whether it was applied.
        await using var pg = await PgTest.CreateAsync();
        await using var proxy = new BreakingProxy(pg.Cluster.Port);
        var store = await OpenWithRunClaimedByW1Async(pg, proxy.ConnectionString);

        var cut = proxy.CutAfterNextCommit();
        var uncertain = await Assert.ThrowsAsync<WorkflowStoreException>(() => store.CommitAsync(StepCommit("r1", "w1", 1) with { Events = [] }, CancellationToken.None));

        Assert.True(cut.IsCompleted, "the connection was not broken: the test proves nothing");
        Assert.Contains("may or may not have been applied", uncertain.Message, StringComparison.Ordinal);
        Assert.Contains("Leases make this safe", uncertain.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r1' AND seq = 1")); // it was in fact applied

        // The store forgot the head it could not confirm: the next commit reads it (the slow way) and chains on it.
        var single = store.SingleCommits;
        await store.CommitAsync(StepCommit("r1", "w1", 2), CancellationToken.None);
        Assert.Equal(single + 1, store.SingleCommits);
        Assert.Null(TimelineChain.Verify(await store.GetTimelineAsync("r1", 0, 100, CancellationToken.None)));
    }

    /// <summary>
    /// Claims run r1 through the proxy, commits position 1, arms the cut and commits position 2, which must still
    /// succeed; checks that the connection was broken and that the store met it once.
    /// </summary>
    private static async Task<PostgresWorkflowStore> SecondCommitThroughABreakAsync(PgTest pg, BreakingProxy proxy, Func<BreakingProxy, Task> arm)
    {
        var store = await OpenWithRunClaimedByW1Async(pg, proxy.ConnectionString);
        await store.CommitAsync(StepCommit("r1", "w1", 1), CancellationToken.None);

        var cut = arm(proxy);
        await store.CommitAsync(StepCommit("r1", "w1", 2), CancellationToken.None);

        Assert.True(cut.IsCompleted, "the connection was not broken: the test proves nothing");
        Assert.Equal(1L, store.TransientFailures);
        return store;
    }

    /// <summary>Asserts that positions 1..<paramref name="steps"/> of run r1 each have one row and one step.completed event, on a valid chain.</summary>
    private static async Task AssertStepsWrittenOnceAsync(PgTest pg, PostgresWorkflowStore store, int steps)
    {
        Assert.Equal((long)steps, await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE run_id = 'r1'"));
        var timeline = await store.GetTimelineAsync("r1", 0, 100, CancellationToken.None);
        Assert.Equal(steps, timeline.Count(e => e.Kind == "step.completed"));
        Assert.Null(TimelineChain.Verify(timeline));
    }

    /// <summary>Starts runs of a workflow whose steps return 1..steps and which returns their sum; counts each step's executions.</summary>
    private static async Task<List<string>> StartSummingRunsAsync(Harness h, int steps, int runs, ConcurrentDictionary<string, int> executed)
    {
        var def = h.Registry.Add($"sum-{steps}", async ctx =>
        {
            var sum = 0;
            for (var s = 1; s <= steps; s++)
            {
                sum += await ctx.StepAsync($"s{s}", sc =>
                {
                    executed.AddOrUpdate($"{sc.RunId}/{sc.Sequence}", 1, (_, n) => n + 1);
                    return Task.FromResult(s);
                });
            }

            return sum;
        });
        var ids = new List<string>();
        for (var r = 0; r < runs; r++)
        {
            ids.Add((await h.Client.StartAsync(def)).Run.RunId);
        }

        return ids;
    }

    /// <summary>Every run completed with the sum of its steps and a verifiable chain; every step ran and was recorded once.</summary>
    private static async Task AssertEveryRunSummedOnceAsync(PgTest pg, Harness h, List<string> ids, int steps, ConcurrentDictionary<string, int> executed)
    {
        foreach (var id in ids)
        {
            var run = await h.RunAsync(id);
            Assert.Equal(RunStatus.Completed, run.Status);
            Assert.Equal((steps * (steps + 1) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), run.Output);
            Assert.Null(TimelineChain.Verify(await h.TimelineAsync(id)));
        }

        Assert.Equal(ids.Count * steps, executed.Count);
        Assert.All(executed.Values, n => Assert.Equal(1, n));
        Assert.Equal((long)(ids.Count * steps), await pg.ScalarAsync<long>("SELECT count(*) FROM steps WHERE status = 'completed'"));
    }

    /// <summary>A store holding run r1, ready to be claimed.</summary>
    private static async Task<PostgresWorkflowStore> OpenWithRunAsync(PgTest pg, string? connectionString = null)
    {
        var store = await pg.OpenAsync(o => o with { ConnectionString = connectionString ?? o.ConnectionString, Listen = false });
        await store.StartRunAsync(NewRun("r1"), CancellationToken.None);
        return store;
    }

    /// <summary>A store holding run r1, claimed by worker w1.</summary>
    private static async Task<PostgresWorkflowStore> OpenWithRunClaimedByW1Async(PgTest pg, string? connectionString = null)
    {
        var store = await OpenWithRunAsync(pg, connectionString);
        await store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 1, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None);
        return store;
    }

    private static NewRun NewRun(string id) => new(id, new WorkflowDefinition("wf", "content-of-wf"), "default", null, null, "user:test", T0);

    /// <summary>A commit of step <paramref name="seq"/> at <paramref name="now"/> (T0 + 3 s unless given) that asks for the lease until 30 s after it.</summary>
    private static RunCommit StepCommit(string runId, string owner, int seq, DateTimeOffset? now = null)
    {
        var at = now ?? T0.AddSeconds(3);
        return new(
            runId,
            owner,
            at,
            null,
            [new StepWrite(new StepRecord(seq, $"s{seq}", StepKind.Inline, StepStatus.Completed, 1, null, null, null, "1", null, null, null, null, T0, T0, null, null), IsNew: true)],
            [],
            null,
            false,
            [new NewTimelineEvent(at, "worker:" + owner, "step.completed", null)],
            at.AddSeconds(30));
    }
}
