using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Npgsql;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>What only PostgreSQL has: concurrent migrations, payload table, notifications, SKIP LOCKED races, errors.</summary>
public sealed class PostgresStoreTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 8, 0, 0, TimeSpan.Zero);

    private static NewRun NewRun(string id, string queue = "default", string? input = null, string? key = null) =>
        new(id, new WorkflowDefinition("wf", "content-of-wf"), queue, input, key, "user:test", T0);

    [Theory]
    [InlineData(null, PostgresStoreOptions.DefaultMaxPoolSize)]
    [InlineData(5, 5)]
    public async Task A_worker_running_64_runs_at_once_keeps_within_its_connection_pool(int? maxPoolSize, int expectedCap)
    {
        // PostgreSQL allows 100 connections by default: a few worker processes must not take them all.
        await using var pg = await PgTest.CreateAsync();
        var app = "pool-" + Guid.NewGuid().ToString("N")[..12];
        var pool = maxPoolSize is { } m ? $";Maximum Pool Size={m}" : string.Empty;
        var store = await pg.OpenAsync(o => o with { ConnectionString = $"{o.ConnectionString};Application Name={app}{pool}", Listen = false });
        var h = new Harness(store, new ManualTimeProvider(T0));
        var def = h.Registry.Add("three-steps", async ctx =>
        {
            for (var s = 1; s <= 3; s++)
            {
                await ctx.StepAsync($"s{s}", _ => Task.FromResult(s));
            }

            return 3;
        });
        var ids = new List<string>();
        for (var r = 0; r < 128; r++)
        {
            ids.Add((await h.Client.StartAsync(def)).Run.RunId);
        }

        await h.Worker("w1", new WorkerOptions { MaxConcurrentRuns = 64 }).RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal(128L, await pg.ScalarAsync<long>("SELECT count(*) FROM runs WHERE run_id = ANY(@ids) AND status = 'completed'", new NpgsqlParameter("ids", ids.ToArray())));
        // A pool keeps what it opened (idle for minutes before it prunes): what is open now is the most it needed at once.
        var opened = await pg.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE application_name = @a", new NpgsqlParameter("a", app));
        Assert.InRange(opened, 1L, expectedCap);
    }

    [Fact]
    public async Task Processes_starting_at_once_migrate_the_schema_exactly_once()
    {
        await using var pg = await PgTest.CreateAsync();

        var opened = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => pg.OpenAsync()));

        Assert.Equal(8, opened.Length);
        Assert.Equal(13L, await pg.ScalarAsync<long>("SELECT count(*) FROM schema_migrations")); // each of the 13 migrations once
        Assert.Equal(13, await opened[0].SchemaVersionAsync(CancellationToken.None));
        Assert.Equal(PostgresSchema.LatestVersion, await opened[0].SchemaVersionAsync(CancellationToken.None));
        Assert.Equal(pg.Schema, await pg.ScalarAsync<string>("SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'runs' AND table_schema = @s", new NpgsqlParameter("s", pg.Schema)));
    }

    [Fact]
    public async Task Large_inputs_and_outputs_live_in_the_payload_table_once_and_read_back_intact()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync(o => o with { InlinePayloadLimit = 100 });
        var big = new JsonObject { ["blob"] = new string('x', 5000) }.ToJsonString();

        await store.StartRunAsync(NewRun("r1", input: big), CancellationToken.None);
        await store.StartRunAsync(NewRun("r2", input: big), CancellationToken.None);
        await store.StartRunAsync(NewRun("r3", input: "{\"small\":1}"), CancellationToken.None);

        Assert.Equal(big, (await store.GetRunAsync("r1", CancellationToken.None))!.Input);
        Assert.Equal(big, (await store.GetRunAsync("r2", CancellationToken.None))!.Input);
        Assert.Equal("{\"small\":1}", (await store.GetRunAsync("r3", CancellationToken.None))!.Input);
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM payloads"));
        Assert.Equal(2L, await pg.ScalarAsync<long>("SELECT count(*) FROM runs WHERE input IS NULL AND input_ref IS NOT NULL"));
        var listed = await store.ListRunsAsync(new RunQuery(), CancellationToken.None);
        Assert.Equal(2, listed.Count(r => r.Input == big));
    }

    [Fact]
    public async Task Another_process_starting_a_run_wakes_this_one_through_notify()
    {
        await using var pg = await PgTest.CreateAsync();
        var listener = await pg.OpenAsync();
        var starter = await pg.OpenAsync(o => o with { Listen = false });
        var woken = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sub = listener.SubscribeWorkAvailable(q =>
        {
            if (q is not null)
            {
                woken.TrySetResult(q);
            }
        });
        await listener.Listening.WaitAsync(Patience);

        await starter.StartRunAsync(NewRun("r1", queue: "ops"), CancellationToken.None);

        Assert.Equal("ops", await woken.Task.WaitAsync(Patience));
    }

    [Fact]
    public async Task Ten_processes_racing_for_one_run_exactly_one_wins_and_a_loser_write_is_refused_unapplied()
    {
        await using var pg = await PgTest.CreateAsync();
        var stores = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => pg.OpenAsync(o => o with { Listen = false })));
        await stores[0].StartRunAsync(NewRun("r1"), CancellationToken.None);

        var claims = await Task.WhenAll(stores.Select((s, i) =>
            s.ClaimRunsAsync(new ClaimRequest($"w{i}", ["default"], 4, T0.AddSeconds(1), TimeSpan.FromSeconds(30)), CancellationToken.None)));

        var winners = claims.SelectMany((c, i) => c.Select(_ => $"w{i}")).ToList();
        var winner = Assert.Single(winners);
        var loser = winner == "w0" ? "w1" : "w0";
        var before = await stores[0].GetTimelineAsync("r1", 0, 100, CancellationToken.None);
        var late = new RunCommit(
            "r1",
            loser,
            T0.AddSeconds(2),
            null,
            [new StepWrite(new StepRecord(1, "s1", StepKind.Inline, StepStatus.Completed, 1, null, null, null, "1", null, null, null, null, T0, T0, null, null), IsNew: true)],
            [],
            new RunTransition(RunStatus.Completed, Output: "\"stolen\""),
            false,
            [new NewTimelineEvent(T0.AddSeconds(2), "worker:" + loser, "step.completed", null)]);

        await Assert.ThrowsAsync<LeaseLostException>(() => stores[1].CommitAsync(late, CancellationToken.None));

        var run = await stores[0].GetRunAsync("r1", CancellationToken.None);
        Assert.Equal(RunStatus.Running, run!.Status);
        Assert.Equal(winner, run.LeaseOwner);
        Assert.Null(run.Output);
        Assert.Equal(0L, await pg.ScalarAsync<long>("SELECT count(*) FROM steps"));
        Assert.Equal(before.Count, (await stores[0].GetTimelineAsync("r1", 0, 100, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task A_claim_over_several_queues_takes_the_longest_due_first_and_reads_only_what_it_takes()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync(o => o with { Listen = false });
        const int backlog = 300;
        for (var r = 0; r < backlog; r++)
        {
            // r000 has been due longest, r299 the shortest; even numbers in queue a, odd in b.
            await store.StartRunAsync(NewRun($"r{r:D3}", r % 2 == 0 ? "a" : "b") with { Now = T0.AddSeconds(r - backlog) }, CancellationToken.None);
        }

        await store.StartRunAsync(NewRun("elsewhere", "c") with { Now = T0.AddHours(-1) }, CancellationToken.None);
        var now = T0.AddSeconds(1);

        // Every statement a claim uses reads at most its limit per queue, not the backlog.
        await AssertClaimReadsAtMostAsync(pg, PostgresWorkflowStore.ReadyRunsSql, now, 3);

        // A queue named twice is one queue: no run is handed out twice.
        var first = await store.ClaimRunsAsync(new ClaimRequest("w1", ["b", "a", "b"], 3, now, TimeSpan.FromSeconds(30)), CancellationToken.None);
        Assert.Equal(["r000", "r001", "r002"], first.Select(c => c.Run.RunId));
        var second = await store.ClaimRunsAsync(new ClaimRequest("w2", ["a"], 2, now, TimeSpan.FromSeconds(30)), CancellationToken.None);
        Assert.Equal(["r004", "r006"], second.Select(c => c.Run.RunId));
        var rest = await store.ClaimRunsAsync(new ClaimRequest("w3", ["a", "b"], backlog, now, TimeSpan.FromSeconds(30)), CancellationToken.None);
        Assert.Equal(backlog - 5, rest.Count);
        Assert.DoesNotContain(rest, c => c.Run.RunId == "elsewhere");

        // Expired leases, and activities queued or expired, are claimed the same way.
        var later = now.AddMinutes(5);
        await AssertClaimReadsAtMostAsync(pg, PostgresWorkflowStore.ExpiredRunsSql, later, 3);
        await using (var cmd = pg.Sql.CreateCommand(
            """
            INSERT INTO steps (run_id, seq, name, kind, status, attempt, queue, activity, available_at, lease_owner, lease_expires_at)
            SELECT run_id, 1, 'act', 'activity', CASE WHEN right(run_id, 1) < '5' THEN 'queued' ELSE 'running' END, 1, queue, 'noop', @now, 'w0', @now
            FROM runs WHERE queue IN ('a', 'b')
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter("now", now));
            Assert.Equal(backlog, await cmd.ExecuteNonQueryAsync());
        }

        await AssertClaimReadsAtMostAsync(pg, PostgresWorkflowStore.ReadyActivitiesSql, later, 3);
        await AssertClaimReadsAtMostAsync(pg, PostgresWorkflowStore.ExpiredActivitiesSql, later, 3);
        var activities = await store.ClaimActivitiesAsync(new ClaimRequest("w4", ["a", "b"], 4, later, TimeSpan.FromSeconds(30)), CancellationToken.None);
        Assert.Equal(4, activities.Select(a => a.RunId).Distinct().Count());
        Assert.All(activities, a => Assert.NotNull(a.PreviousOwner)); // expired attempts first

        static async Task AssertClaimReadsAtMostAsync(PgTest pg, string claimSql, DateTimeOffset now, int limit)
        {
            await using var conn = await pg.Sql.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using var cmd = new NpgsqlCommand("EXPLAIN (ANALYZE, FORMAT JSON) " + claimSql, conn, tx);
            cmd.Parameters.Add(new NpgsqlParameter("q", new[] { "a", "b" }));
            cmd.Parameters.Add(new NpgsqlParameter("now", now));
            cmd.Parameters.Add(new NpgsqlParameter("n", limit));
            var plan = JsonNode.Parse((string)(await cmd.ExecuteScalarAsync())!)![0]!["Plan"]!;
            var nodes = new List<JsonNode>();
            void Walk(JsonNode node)
            {
                nodes.Add(node);
                foreach (var child in node["Plans"]?.AsArray() ?? [])
                {
                    Walk(child!);
                }
            }

            Walk(plan);
            Assert.Equal(limit, (long)plan["Actual Rows"]!);
            // No step of the plan (scans, the live-run checks, the sort) handles more rows than the limit from each queue.
            Assert.InRange(nodes.Max(n => (long)n["Actual Rows"]! * (long)n["Actual Loops"]!), limit, 2 * limit);
            await tx.RollbackAsync();
        }
    }

    [Fact]
    public async Task The_timeline_cannot_be_changed_or_deleted_even_with_direct_sql()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync();
        await store.StartRunAsync(NewRun("r1"), CancellationToken.None);

        var update = await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>("UPDATE timeline SET actor = 'user:mallory'"));
        var delete = await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>("DELETE FROM timeline"));

        Assert.Contains("append-only", update.MessageText, StringComparison.Ordinal);
        Assert.Contains("append-only", delete.MessageText, StringComparison.Ordinal);
        Assert.Equal("user:test", (await store.GetTimelineAsync("r1", 0, 10, CancellationToken.None))[0].Actor);

        // The journal of what was received for no run, likewise.
        await store.AppendJournalAsync([new NewJournalEntry(T0, "alertmanager", "unmatched", "Watchdog", null)], CancellationToken.None);
        Assert.Contains("append-only", (await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>("UPDATE journal SET kind = 'started'"))).MessageText, StringComparison.Ordinal);
        Assert.Contains("append-only", (await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>("DELETE FROM journal"))).MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pruning_removes_a_runs_payloads_unless_a_kept_run_shares_them_and_its_records_are_append_only()
    {
        await using var pg = await PgTest.CreateAsync();
        var store = await pg.OpenAsync();
        var time = new ManualTimeProvider(T0);
        var h = new Harness(store, time);
        var big = h.Registry.Add("big", async ctx =>
        {
            var fill = ctx.Input!["fill"]!.GetValue<string>();
            var step = await ctx.StepAsync("make", _ => Task.FromResult(new string(fill[0], 6000)));
            return JsonValue.Create(step);
        });
        var shared = (await h.Client.StartAsync(big, new StartRunOptions { Input = new JsonObject { ["fill"] = "x" } })).Run;
        var alone = (await h.Client.StartAsync(big, new StartRunOptions { Input = new JsonObject { ["fill"] = "y" } })).Run;
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromDays(2));
        var kept = (await h.Client.StartAsync(big, new StartRunOptions { Input = new JsonObject { ["fill"] = "x" } })).Run;
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(2L, await pg.ScalarAsync<long>("SELECT count(*) FROM payloads")); // one per distinct large value

        var pruned = await store.PruneRunsAsync(new RunPruning(time.GetUtcNow() - TimeSpan.FromDays(1), 10, "user:ops", time.GetUtcNow()), CancellationToken.None);

        Assert.Equal(new[] { alone.RunId, shared.RunId }.Order(), pruned.Select(p => p.RunId).Order());
        Assert.Equal(1L, await pg.ScalarAsync<long>("SELECT count(*) FROM payloads"));
        Assert.Equal(new string('x', 6000), WorkflowJson.Parse((await store.GetRunAsync(kept.RunId, CancellationToken.None))!.Output)!.GetValue<string>());
        foreach (var table in (string[])["runs", "steps", "timeline", "signals"])
        {
            Assert.Equal(0L, await pg.ScalarAsync<long>($"SELECT count(*) FROM {table} WHERE run_id = ANY(@ids)", new NpgsqlParameter("ids", new[] { shared.RunId, alone.RunId })));
        }

        // Only a tombstone lets a run's events go; tombstones stay; a pruned id is not used again.
        Assert.Contains("append-only", (await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>($"DELETE FROM timeline WHERE run_id = '{kept.RunId}'"))).MessageText, StringComparison.Ordinal);
        Assert.Contains("append-only", (await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>("DELETE FROM pruned_runs"))).MessageText, StringComparison.Ordinal);
        Assert.Contains("append-only", (await Assert.ThrowsAsync<PostgresException>(() => pg.ScalarAsync<object>("TRUNCATE pruned_runs"))).MessageText, StringComparison.Ordinal);
        var reuse = await Assert.ThrowsAsync<WorkflowStoreException>(() => store.StartRunAsync(NewRun(alone.RunId), CancellationToken.None));
        Assert.Contains("was pruned", reuse.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_and_a_missing_database_get_clear_errors_without_the_password()
    {
        var cluster = await PostgresCluster.SharedAsync();
        var closedPort = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Port = FreePort(), Password = "s3cret-pw" }.ConnectionString;
        var missingDb = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Database = "no_such_db", Password = "s3cret-pw" }.ConnectionString;

        var unreachable = await Assert.ThrowsAsync<WorkflowStoreException>(() => PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = closedPort, ReconnectWindow = TimeSpan.Zero }));
        var missing = await Assert.ThrowsAsync<WorkflowStoreException>(() => PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = missingDb, ReconnectWindow = TimeSpan.Zero }));
        var badSchema = await Assert.ThrowsAsync<WorkflowStoreException>(() => PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = cluster.ConnectionString, Schema = "Robert'); DROP" }));

        Assert.StartsWith("Cannot reach PostgreSQL at 127.0.0.1:", unreachable.Message, StringComparison.Ordinal);
        Assert.Contains("Is the server running", unreachable.Message, StringComparison.Ordinal);
        Assert.Contains("no_such_db", missing.Message, StringComparison.Ordinal);
        Assert.Contains("Create it first", missing.Message, StringComparison.Ordinal);
        Assert.Contains("not a plain PostgreSQL identifier", badSchema.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", unreachable.Message + missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Store_strings_are_recognised_and_urls_become_connection_strings()
    {
        Assert.True(PostgresStoreOptions.IsPostgres("Host=db;Database=runbook"));
        Assert.True(PostgresStoreOptions.IsPostgres("Database=runbook; host=db"));
        Assert.True(PostgresStoreOptions.IsPostgres("postgres://u:p@db/runbook"));
        Assert.False(PostgresStoreOptions.IsPostgres(".runbook/runbook.db"));
        Assert.False(PostgresStoreOptions.IsPostgres("/var/lib/hosts=1/runbook.db"));

        var cs = new NpgsqlConnectionStringBuilder(PostgresStoreOptions.NormalizeConnectionString("postgresql://ops%40corp:p%3Aw@db.internal:6432/runbook"));
        Assert.Equal(("db.internal", 6432, "runbook", "ops@corp", "p:w"), (cs.Host, cs.Port, cs.Database, cs.Username, cs.Password));
        var bad = Assert.Throws<ArgumentException>(() => PostgresStoreOptions.NormalizeConnectionString("Host=db;Nonsense=1;Password=hunter2"));
        Assert.DoesNotContain("hunter2", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_retried_with_backoff_on_the_stores_clock_until_the_reconnect_window_is_spent()
    {
        var cluster = await PostgresCluster.SharedAsync();
        var closedPort = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Port = FreePort() }.ConnectionString;
        var time = new ManualTimeProvider();
        var started = time.GetUtcNow();

        // Every retry waits on the manual clock: the test moves it past each back-off as soon as it is set.
        var next = time.WaitForTimerAsync(TimeSpan.FromMilliseconds(100));
        var opening = PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = closedPort, ReconnectWindow = TimeSpan.FromSeconds(5), TimeProvider = time });
        foreach (var ms in new[] { 100, 200, 400, 800, 1600 })
        {
            await next.WaitAsync(TimeSpan.FromSeconds(30));
            next = time.WaitForTimerAsync(TimeSpan.FromMilliseconds(Math.Min(ms * 2, 2000)));
            time.Advance(TimeSpan.FromMilliseconds(ms));
        }

        // After 3.1 s of back-off the next wait (2 s) would pass the 5 s window: the error comes instead.
        var error = await Assert.ThrowsAsync<WorkflowStoreException>(() => opening.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.StartsWith("Cannot reach PostgreSQL at 127.0.0.1:", error.Message, StringComparison.Ordinal);
        Assert.False(next.IsCompleted, "no sixth back-off was set");
        Assert.Equal(TimeSpan.FromMilliseconds(3100), time.GetUtcNow() - started);
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
