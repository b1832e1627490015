using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Testing;

/// <summary>
/// The kernel's semantics, checked through the real engine against a store provider. Every provider's test
/// project derives from this class unchanged (Wolverine's MessageStoreCompliance pattern).
/// </summary>
public abstract partial class WorkflowStoreCompliance : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly List<IWorkflowStore> opened = [];

    protected Harness H { get; private set; } = null!;

    /// <summary>Opens a store over this test's database: every call within one test reaches the same data.</summary>
    protected abstract Task<IWorkflowStore> OpenStoreAsync();

    public async Task InitializeAsync() => H = new Harness(await OpenAsync(), new ManualTimeProvider());

    public async Task DisposeAsync()
    {
        foreach (var s in opened)
        {
            await s.DisposeAsync();
        }
    }

    protected async Task<IWorkflowStore> OpenAsync()
    {
        var s = await OpenStoreAsync();
        opened.Add(s);
        return s;
    }

    private static Task<T> Done<T>(T value) => Task.FromResult(value);

    [Fact]
    public async Task Start_with_an_idempotency_key_twice_returns_the_first_run()
    {
        var def = H.Registry.Add("noop", _ => Task.FromResult<JsonNode?>(null));
        var first = await H.Client.StartAsync(def, new StartRunOptions { IdempotencyKey = "alert-123", Actor = "user:alice" });
        var second = await H.Client.StartAsync(def, new StartRunOptions { IdempotencyKey = "alert-123", Actor = "user:bob" });

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.Run.RunId, second.Run.RunId);
        Assert.Equal("user:alice", second.Run.CreatedBy);
        Assert.Single(await H.Client.ListRunsAsync());
        Assert.Equal(["run.created"], await H.KindsAsync(first.Run.RunId));

        // Found again by its key (how a resolved alert finds the run its firing started), and only it.
        await H.Client.StartAsync(def, new StartRunOptions { IdempotencyKey = "alert-456" });
        var found = await H.Client.ListRunsAsync(new RunQuery { IdempotencyKey = "alert-123" });
        Assert.Equal(first.Run.RunId, Assert.Single(found).RunId);
        Assert.Empty(await H.Client.ListRunsAsync(new RunQuery { IdempotencyKey = "alert-789" }));
    }

    [Fact]
    public async Task A_runs_traceparent_is_stored_with_it_and_read_back_by_every_query()
    {
        const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var def = H.Registry.Add("traced", _ => Task.FromResult<JsonNode?>(null));
        var traced = await H.Client.StartAsync(def, new StartRunOptions { TraceParent = TraceParent, IdempotencyKey = "traced" });

        Assert.Equal(TraceParent, traced.Run.TraceParent);
        Assert.Equal(TraceParent, (await H.Client.GetRunAsync(traced.Run.RunId))!.TraceParent);
        Assert.Equal(TraceParent, (await H.Client.StartAsync(def, new StartRunOptions { IdempotencyKey = "traced" })).Run.TraceParent);
        Assert.Equal(TraceParent, (await H.Client.ListRunsAsync()).Single(r => r.RunId == traced.Run.RunId).TraceParent);
    }

    [Fact]
    public async Task A_run_completes_with_its_output_and_an_ordered_verifiable_timeline()
    {
        var def = H.Registry.Add("sum", async ctx =>
        {
            var a = await ctx.StepAsync("a", _ => Done(20));
            var b = await ctx.StepAsync("b", _ => Done(22));
            return JsonValue.Create(a + b);
        });
        var run = (await H.Client.StartAsync(def, new StartRunOptions { Actor = "user:alice", Input = new JsonObject { ["host"] = "web-1" } })).Run;

        Assert.Equal(1, await H.Worker().RunUntilIdleAsync(CancellationToken.None));

        var done = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("42", done.Output);
        Assert.Equal("{\"host\":\"web-1\"}", done.Input);
        Assert.NotNull(done.CompletedAt);
        Assert.Null(done.LeaseOwner);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal(Expected(), timeline.Select(e => e.Kind).ToList());
        Assert.Equal("user:alice", timeline[0].Actor);
        Assert.Equal("worker:w1", timeline[1].Actor);
        Assert.Equal(Enumerable.Range(1, timeline.Count).Select(i => (long)i), timeline.Select(e => e.Sequence));
        Assert.Null(TimelineChain.Verify(timeline));

        static List<string> Expected() => ["run.created", "run.claimed", "step.started", "step.completed", "step.started", "step.completed", "run.completed"];
    }

    [Fact]
    public async Task Timeline_verification_detects_an_altered_event()
    {
        var def = H.Registry.Add("one", async ctx => JsonValue.Create(await ctx.StepAsync("a", _ => Done(1))));
        var run = (await H.Client.StartAsync(def)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        var timeline = (await H.TimelineAsync(run.RunId)).ToList();
        Assert.Null(TimelineChain.Verify(timeline));

        timeline[2] = timeline[2] with { Actor = "user:mallory" };
        Assert.Equal(3, TimelineChain.Verify(timeline)!.Value.Sequence);

        var dropped = timeline.Where(e => e.Sequence != 2).ToList();
        Assert.Equal(3, TimelineChain.Verify(dropped)!.Value.Sequence);
    }

    [Fact]
    public async Task A_completed_step_is_never_executed_again_when_the_run_resumes()
    {
        var executions = new ConcurrentDictionary<string, int>();
        var def = H.Registry.Add("sleepy", async ctx =>
        {
            await ctx.StepAsync("before", _ => Done(executions.AddOrUpdate("before", 1, (_, n) => n + 1)));
            await ctx.DelayAsync(TimeSpan.FromMinutes(10));
            await ctx.StepAsync("after", _ => Done(executions.AddOrUpdate("after", 1, (_, n) => n + 1)));
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();

        await worker.RunUntilIdleAsync(CancellationToken.None);
        var waiting = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Waiting, waiting.Status);
        Assert.Equal(H.Time.GetUtcNow() + TimeSpan.FromMinutes(10), waiting.AvailableAt);
        Assert.Equal(0, worker.InFlightCount);

        H.Time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(0, await worker.RunUntilIdleAsync(CancellationToken.None));
        Assert.Equal(RunStatus.Waiting, (await H.RunAsync(run.RunId)).Status);

        H.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await worker.RunUntilIdleAsync(CancellationToken.None));

        Assert.Equal(RunStatus.Completed, (await H.RunAsync(run.RunId)).Status);
        Assert.Equal(1, executions["before"]);
        Assert.Equal(1, executions["after"]);
        Assert.Contains("timer.fired", await H.KindsAsync(run.RunId));
    }

    [Fact]
    public async Task An_interrupted_step_is_retried_with_the_next_attempt_and_the_stale_owner_is_fenced()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var keys = new ConcurrentQueue<(string Attempt, string Step)>();
        var def = H.Registry.Add("slow", async ctx =>
        {
            var attempt = await ctx.StepAsync("work", async sc =>
            {
                keys.Enqueue((sc.IdempotencyKey, sc.StepKey));
                if (sc.Attempt == 1)
                {
                    entered.TrySetResult();
                    await release.Task;
                }

                return sc.Attempt;
            });
            return JsonValue.Create(attempt);
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var lease = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30) };

        var stale = H.Worker("w1", lease).RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        H.Time.Advance(TimeSpan.FromSeconds(31)); // w1 never renewed: its lease has expired
        await H.Worker("w2", lease).RunUntilIdleAsync(CancellationToken.None);
        release.SetResult();
        await stale.WaitAsync(Patience);

        var done = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("2", done.Output);
        Assert.Equal([($"{run.RunId}/1/1", $"{run.RunId}/1"), ($"{run.RunId}/1/2", $"{run.RunId}/1")], keys.ToArray());
        var timeline = await H.TimelineAsync(run.RunId);
        var recovered = Assert.Single(timeline, e => e.Kind == "run.recovered");
        Assert.Equal("worker:w2", recovered.Actor);
        Assert.Equal("w1", System.Text.Json.Nodes.JsonNode.Parse(recovered.Data!)!["previous_owner"]!.GetValue<string>());
        Assert.Contains(timeline, e => e.Kind == "step.interrupted");
        var fenced = Assert.Single(timeline, e => e.Kind == "lease.fenced");
        Assert.Equal("worker:w1", fenced.Actor);
        Assert.Equal(1, timeline.Count(e => e.Kind == "run.completed"));
        Assert.Null(TimelineChain.Verify(timeline));
    }

    [Fact]
    public async Task A_worker_that_claims_its_own_lapsed_run_again_does_not_start_a_second_execution_of_it()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = new ConcurrentQueue<int>();
        var def = H.Registry.Add("lapsed", async ctx =>
        {
            var attempt = await ctx.StepAsync("work", async sc =>
            {
                attempts.Enqueue(sc.Attempt);
                entered.TrySetResult();
                await release.Task;
                return sc.Attempt;
            });
            await ctx.StepAsync("after", _ => Done(true));
            return JsonValue.Create(attempt);
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker("w1", new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30) });

        var first = worker.RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        H.Time.Advance(TimeSpan.FromSeconds(31)); // no heartbeat renewed it: its lease has run out
        var again = worker.RunUntilIdleAsync(CancellationToken.None); // claims the lapsed run, its own, again
        await UntilAsync(async () => (await H.RunAsync(run.RunId)).LeaseExpiresAt > H.Time.GetUtcNow());
        Assert.Equal(1, worker.InFlightCount);
        release.SetResult();
        await first.WaitAsync(Patience);
        await again.WaitAsync(Patience);

        var done = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("1", done.Output);
        Assert.Equal([1], attempts.ToArray()); // the step's code ran once
        Assert.Equal(0, worker.InFlightCount);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.DoesNotContain(timeline, e => e.Kind is "lease.fenced" or "step.interrupted");
        Assert.Equal(1, timeline.Count(e => e.Kind == "run.completed"));
        Assert.Null(TimelineChain.Verify(timeline));
    }

    [Fact]
    public async Task A_killed_worker_commits_nothing_more_keeps_its_lease_and_its_step_is_run_again_after_the_lease()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = new ConcurrentQueue<int>();
        var def = H.Registry.Add("killed", async ctx =>
        {
            var attempt = await ctx.StepAsync("work", async sc =>
            {
                attempts.Enqueue(sc.Attempt);
                if (sc.Attempt == 1)
                {
                    entered.TrySetResult();
                    await new TaskCompletionSource().Task.WaitAsync(sc.CancellationToken); // only the kill ends it
                }

                return sc.Attempt;
            });
            return JsonValue.Create(attempt);
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var lease = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30) };

        var w1 = H.Worker("w1", lease);
        var first = w1.RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        await w1.KillAsync();
        Assert.Equal(1, await first.WaitAsync(Patience)); // it ran the one run it had claimed, and claims nothing after the kill
        Assert.Equal(0, await w1.RunUntilIdleAsync(CancellationToken.None));

        var held = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Running, held.Status);
        Assert.Equal("w1", held.LeaseOwner); // a dead process gives nothing back
        Assert.Equal(0, await H.Worker("w2", lease).RunUntilIdleAsync(CancellationToken.None)); // not before the lease expires

        H.Time.Advance(TimeSpan.FromSeconds(31));
        await H.Worker("w2", lease).RunUntilIdleAsync(CancellationToken.None);
        var done = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("2", done.Output);
        Assert.Equal([1, 2], attempts.ToArray());
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal("worker:w2", Assert.Single(timeline, e => e.Kind == "run.recovered").Actor);
        Assert.Contains(timeline, e => e.Kind == "step.interrupted");
        Assert.DoesNotContain(timeline, e => e.Actor == "worker:w1" && e.Kind is "step.completed" or "step.failed" or "lease.fenced");
        Assert.Null(TimelineChain.Verify(timeline));
        await w1.DisposeAsync();
    }

    [Fact]
    public async Task Retries_back_off_by_the_policy_and_stop_at_the_maximum_attempts()
    {
        var attempts = 0;
        var policy = new RetryPolicy { MaximumAttempts = 3, InitialInterval = TimeSpan.FromSeconds(1), BackoffCoefficient = 2, MaximumInterval = TimeSpan.FromSeconds(60) };
        var def = H.Registry.Add("flaky", async ctx =>
        {
            await ctx.StepAsync<int>("call", _ => throw new HttpRequestException($"503 on attempt {Interlocked.Increment(ref attempts)}"), new StepOptions { Retry = policy });
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        var t0 = H.Time.GetUtcNow();

        await worker.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(1, attempts);
        Assert.Equal(t0 + TimeSpan.FromSeconds(1), (await H.RunAsync(run.RunId)).AvailableAt);

        H.Time.Advance(TimeSpan.FromSeconds(1));
        await worker.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(2, attempts);
        Assert.Equal(t0 + TimeSpan.FromSeconds(3), (await H.RunAsync(run.RunId)).AvailableAt);

        H.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, await worker.RunUntilIdleAsync(CancellationToken.None));
        H.Time.Advance(TimeSpan.FromSeconds(1));
        await worker.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(3, attempts);

        var failed = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("HttpRequestException", failed.ErrorKind);
        Assert.Contains("503 on attempt 3", failed.ErrorMessage, StringComparison.Ordinal);
        var failures = (await H.TimelineAsync(run.RunId)).Where(e => e.Kind == "step.failed").ToList();
        Assert.Equal(3, failures.Count);
        Assert.Equal(t0 + TimeSpan.FromSeconds(1), System.Text.Json.Nodes.JsonNode.Parse(failures[0].Data!)!["retry_at"]!.GetValue<DateTimeOffset>());
        Assert.Contains("\"final\":true", failures[2].Data!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_retryable_error_kind_fails_the_step_at_once()
    {
        var attempts = 0;
        var options = new StepOptions { Retry = new RetryPolicy { MaximumAttempts = 5, NonRetryableErrorKinds = ["Forbidden"] } };
        var def = H.Registry.Add("denied", async ctx =>
        {
            try
            {
                await ctx.StepAsync<int>("call", _ => throw new StepException("Forbidden", $"403 #{Interlocked.Increment(ref attempts)}"), options);
            }
            catch (StepFailedException ex)
            {
                return JsonValue.Create($"{ex.StepName}:{ex.ErrorKind}:{ex.Attempts}");
            }

            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal(1, attempts);
        Assert.Equal("\"call:Forbidden:1\"", (await H.RunAsync(run.RunId)).Output);
    }

    [Fact]
    public async Task An_attempt_that_exceeds_its_timeout_fails_with_kind_Timeout()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var def = H.Registry.Add("hang", async ctx =>
        {
            await ctx.StepAsync("hang", async sc =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, sc.CancellationToken);
                return 1;
            }, new StepOptions { AttemptTimeout = TimeSpan.FromSeconds(5), Retry = RetryPolicy.None });
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var timer = H.Time.WaitForTimerAsync(TimeSpan.FromSeconds(5));
        var working = H.Worker().RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        await timer.WaitAsync(Patience);
        H.Time.Advance(TimeSpan.FromSeconds(5));
        await working.WaitAsync(Patience);

        var failed = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("Timeout", failed.ErrorKind);
    }

    [Fact]
    public async Task A_step_timeout_stops_retries_that_would_end_after_it()
    {
        var attempts = 0;
        var options = new StepOptions
        {
            StepTimeout = TimeSpan.FromSeconds(15),
            Retry = new RetryPolicy { MaximumAttempts = 10, InitialInterval = TimeSpan.FromSeconds(10), BackoffCoefficient = 2, MaximumInterval = TimeSpan.FromMinutes(5) },
        };
        var def = H.Registry.Add("deadline", async ctx =>
        {
            await ctx.StepAsync<int>("call", _ => throw new InvalidOperationException($"boom {Interlocked.Increment(ref attempts)}"), options);
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        H.Time.Advance(TimeSpan.FromSeconds(10));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal(2, attempts);
        Assert.Equal(RunStatus.Failed, (await H.RunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task A_signal_sent_before_the_wait_is_kept_and_delivered()
    {
        var def = H.Registry.Add("approval", async ctx =>
        {
            await ctx.StepAsync("plan", _ => Done("plan"));
            var s = await ctx.WaitForSignalAsync("approve", TimeSpan.FromMinutes(30));
            return JsonValue.Create($"{s!.Sender}:{s.Payload!["comment"]}");
        });
        var run = (await H.Client.StartAsync(def)).Run;
        Assert.Equal(SignalOutcome.Delivered, await H.Client.SignalAsync(run.RunId, "approve", new JsonObject { ["comment"] = "go" }, "user:carol"));

        await H.Worker().RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal("\"user:carol:go\"", (await H.RunAsync(run.RunId)).Output);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal("user:carol", Assert.Single(timeline, e => e.Kind == "signal.received").Actor);
        Assert.Single(timeline, e => e.Kind == "signal.consumed");
    }

    [Fact]
    public async Task A_waiting_run_holds_nothing_and_survives_the_restart_of_every_process()
    {
        var prepared = 0;
        WorkflowFunction body = async ctx =>
        {
            await ctx.StepAsync("prepare", _ => Done(Interlocked.Increment(ref prepared)));
            var s = await ctx.WaitForSignalAsync("approve");
            return JsonValue.Create(s!.Sender);
        };
        var def = H.Registry.Add("approval", body);
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        var waiting = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Waiting, waiting.Status);
        Assert.Null(waiting.AvailableAt);
        Assert.Null(waiting.LeaseOwner);
        Assert.Equal(0, worker.InFlightCount);
        await H.Store.DisposeAsync();

        // Everything restarts: a new store over the same database, a new registry, a new worker and client.
        var reopened = await OpenAsync();
        var restarted = new Harness(reopened, H.Time);
        restarted.Registry.Add("approval", body);
        Assert.Equal(SignalOutcome.Delivered, await restarted.Client.SignalAsync(run.RunId, "approve", null, "user:dave"));
        await restarted.Worker("w9").RunUntilIdleAsync(CancellationToken.None);

        var done = await restarted.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("\"user:dave\"", done.Output);
        Assert.Equal(1, prepared);
    }

    [Fact]
    public async Task A_signal_wait_that_times_out_returns_null_and_records_it()
    {
        var def = H.Registry.Add("approval", async ctx =>
        {
            var s = await ctx.WaitForSignalAsync("approve", TimeSpan.FromMinutes(30));
            return JsonValue.Create(s is null ? "timed out" : "approved");
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        H.Time.Advance(TimeSpan.FromMinutes(30));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal("\"timed out\"", (await H.RunAsync(run.RunId)).Output);
        Assert.Contains("wait.timed_out", await H.KindsAsync(run.RunId));
        Assert.Equal(SignalOutcome.RunFinished, await H.Client.SignalAsync(run.RunId, "approve", null, "user:late"));
        Assert.Equal(SignalOutcome.RunNotFound, await H.Client.SignalAsync("run_missing", "approve", null, "user:late"));
    }

    [Fact]
    public async Task A_different_step_at_a_recorded_position_fails_the_run_naming_both()
    {
        var renamed = false;
        var def = H.Registry.Add("drift", async ctx =>
        {
            await ctx.StepAsync(renamed ? "restart-service" : "check-disk", _ => Done(1));
            await ctx.DelayAsync(TimeSpan.FromMinutes(1));
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        renamed = true;
        H.Time.Advance(TimeSpan.FromMinutes(1));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        var failed = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("NonDeterminism", failed.ErrorKind);
        Assert.Contains("'check-disk'", failed.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("'restart-service'", failed.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("position 1", failed.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_replays_against_the_definition_it_started_with()
    {
        var v1 = H.Registry.Add("pinned", async ctx =>
        {
            await ctx.DelayAsync(TimeSpan.FromMinutes(1));
            return JsonValue.Create("v1");
        }, version: "1");
        var old = (await H.Client.StartAsync(v1)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);

        var v2 = H.Registry.Add("pinned", _ => Task.FromResult<JsonNode?>(JsonValue.Create("v2")), version: "2");
        var fresh = (await H.Client.StartAsync(H.Registry.Get("pinned"))).Run;
        H.Time.Advance(TimeSpan.FromMinutes(1));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        Assert.NotEqual(v1.Hash, v2.Hash);
        Assert.Equal(v1.Hash, old.DefinitionHash);
        Assert.Equal("\"v1\"", (await H.RunAsync(old.RunId)).Output);
        Assert.Equal("\"v2\"", (await H.RunAsync(fresh.RunId)).Output);
        var stored = await H.Store.GetDefinitionAsync(v1.Hash, CancellationToken.None);
        Assert.Equal("code:1", stored!.Content);
    }

    [Fact]
    public async Task A_run_whose_definition_this_worker_cannot_resolve_fails_with_a_clear_error()
    {
        var def = new WorkflowDefinition("unknown", "code:7");
        var run = (await H.Client.StartAsync(def)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);

        var failed = await H.RunAsync(run.RunId);
        Assert.Equal("DefinitionUnavailable", failed.ErrorKind);
        Assert.Contains("'unknown'", failed.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Workflow_time_randomness_and_ids_are_the_same_on_replay()
    {
        var def = H.Registry.Add("deterministic", async ctx =>
        {
            var id = ctx.NewGuid();
            var roll = ctx.Random.Next(1_000_000);
            var at = ctx.UtcNow;
            var recorded = await ctx.StepAsync("record", _ => Done($"{id}|{roll}|{at:O}"));
            await ctx.DelayAsync(TimeSpan.FromHours(1));
            return JsonValue.Create(recorded == $"{id}|{roll}|{at:O}" ? "same" : $"differs: {recorded} vs {id}|{roll}|{at:O}");
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        H.Time.Advance(TimeSpan.FromHours(1));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal("\"same\"", (await H.RunAsync(run.RunId)).Output);
    }

    [Fact]
    public async Task Workflow_time_after_a_live_step_equals_its_replayed_value_regression_sub_millisecond_clock()
    {
        // Regression: live times kept sub-millisecond ticks while stored ones are milliseconds, so UtcNow read
        // after a live step differed from the same read on replay.
        H.Time.Advance(TimeSpan.FromTicks(4_321));
        var def = H.Registry.Add("clock", async ctx =>
        {
            await ctx.StepAsync("tick", _ => Done(1));
            var afterStep = ctx.UtcNow;
            var recorded = await ctx.StepAsync("record", _ => Done(afterStep));
            await ctx.DelayAsync(TimeSpan.FromMinutes(1));
            return JsonValue.Create(recorded == afterStep ? "same" : $"{recorded:O} vs {afterStep:O}");
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        H.Time.Advance(TimeSpan.FromMinutes(1));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal("\"same\"", (await H.RunAsync(run.RunId)).Output);
    }

    [Fact]
    public async Task Cancelling_a_waiting_run_records_who_asked_and_why()
    {
        var def = H.Registry.Add("approval", async ctx =>
        {
            await ctx.WaitForSignalAsync("approve");
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        await worker.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal(CancelOutcome.Requested, await H.Client.CancelAsync(run.RunId, "user:bob", "wrong host"));
        Assert.Equal(CancelOutcome.AlreadyRequested, await H.Client.CancelAsync(run.RunId, "user:bob", "again"));
        await worker.RunUntilIdleAsync(CancellationToken.None);

        var cancelled = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        Assert.Equal("wrong host", cancelled.ErrorMessage);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal("user:bob", Assert.Single(timeline, e => e.Kind == "run.cancel_requested").Actor);
        Assert.Contains("user:bob", Assert.Single(timeline, e => e.Kind == "run.cancelled").Data!, StringComparison.Ordinal);
        Assert.Equal(CancelOutcome.RunFinished, await H.Client.CancelAsync(run.RunId, "user:bob"));
    }

    [Fact]
    public async Task Cancelling_a_running_step_reaches_it_through_the_heartbeat()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var def = H.Registry.Add("long", async ctx =>
        {
            await ctx.StepAsync("drain-node", async sc =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, sc.CancellationToken);
                return 0;
            });
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var worker = H.Worker();
        var working = worker.RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);

        await H.Client.CancelAsync(run.RunId, "user:erin", "maintenance window closed");
        await worker.HeartbeatAsync(CancellationToken.None);
        await working.WaitAsync(Patience);

        Assert.Equal(RunStatus.Cancelled, (await H.RunAsync(run.RunId)).Status);
        var kinds = await H.KindsAsync(run.RunId);
        Assert.Equal("run.cancelled", kinds[^1]);
        Assert.Contains("step.failed", kinds);

        // The worker learnt of the cancel from its lease renewal, after it had loaded the run: who and why still show.
        var cancelled = (await H.TimelineAsync(run.RunId))[^1].Data!;
        Assert.Contains("\"requested_by\":\"user:erin\"", cancelled, StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"maintenance window closed\"", cancelled, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_activity_on_another_queue_suspends_the_run_until_that_queue_executes_it()
    {
        var activities = new ActivityRegistry().Add("restart", sc => Task.FromResult<JsonNode?>(JsonValue.Create($"restarted {sc.Input!["host"]} attempt {sc.Attempt}")));
        var def = H.Registry.Add("remote", async ctx =>
            await ctx.ActivityAsync("restart-web", "restart", "ops", new JsonObject { ["host"] = "web-1" }));
        var run = (await H.Client.StartAsync(def)).Run;
        var orchestrator = H.Worker("orchestrator");
        var opsWorker = H.Worker("ops-1", new WorkerOptions { Queues = ["ops"] }, activities);

        await orchestrator.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Waiting, (await H.RunAsync(run.RunId)).Status);
        await opsWorker.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Ready, (await H.RunAsync(run.RunId)).Status);
        await orchestrator.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal("\"restarted web-1 attempt 1\"", (await H.RunAsync(run.RunId)).Output);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Contains(timeline, e => e.Kind == "step.scheduled");
        Assert.Equal("worker:ops-1", Assert.Single(timeline, e => e.Kind == "step.completed").Actor);
    }

    [Fact]
    public async Task A_run_that_ends_with_an_activity_still_queued_takes_it_off_the_queue_so_no_worker_runs_it_later()
    {
        var ran = 0;
        var activities = new ActivityRegistry().Add("restart", _ =>
        {
            Interlocked.Increment(ref ran);
            return Task.FromResult<JsonNode?>(JsonValue.Create("restarted"));
        });
        var def = H.Registry.Add("remote-cancelled", async ctx => await ctx.ActivityAsync("restart-web", "restart", "ops", null));
        var run = (await H.Client.StartAsync(def)).Run;
        var orchestrator = H.Worker("orchestrator");
        await orchestrator.RunUntilIdleAsync(CancellationToken.None);
        Assert.Contains(await H.Store.BacklogAsync(H.Time.GetUtcNow(), CancellationToken.None), b => b.Queue == "ops");

        Assert.Equal(CancelOutcome.Requested, await H.Client.CancelAsync(run.RunId, "user:bob", "not needed"));
        await orchestrator.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Cancelled, (await H.RunAsync(run.RunId)).Status);

        // The queued activity ended with its run: off the queue, and recorded as never run.
        var step = Assert.Single((await H.Store.LoadHistoryAsync(run.RunId, CancellationToken.None)).Steps, s => s.Kind == StepKind.Activity);
        Assert.Equal((StepStatus.Failed, "RunEnded"), (step.Status, step.ErrorKind));
        Assert.DoesNotContain(await H.Store.BacklogAsync(H.Time.GetUtcNow(), CancellationToken.None), b => b.Queue == "ops");
        Assert.Equal(0, await H.Worker("ops-1", new WorkerOptions { Queues = ["ops"] }, activities).RunUntilIdleAsync(CancellationToken.None));
        Assert.Equal(0, ran);
        Assert.Null(TimelineChain.Verify(await H.TimelineAsync(run.RunId)));
    }

    [Fact]
    public async Task The_backlog_counts_what_is_due_per_queue_and_kind_with_the_longest_waiting()
    {
        var remote = H.Registry.Add("remote-backlog", async ctx => await ctx.ActivityAsync("restart-web", "restart", "ops", null));
        var sleeper = H.Registry.Add("sleeper", async ctx =>
        {
            await ctx.DelayAsync(TimeSpan.FromHours(1), "nap");
            return null;
        });
        var t0 = H.Time.GetUtcNow();
        Assert.Empty(await H.Store.BacklogAsync(t0, CancellationToken.None));

        // A run whose activity waits on "ops", and a run that sleeps (not due for an hour).
        await H.Client.StartAsync(remote);
        await H.Client.StartAsync(sleeper);
        await H.Worker("orchestrator").RunUntilIdleAsync(CancellationToken.None);

        // Two new runs on "default", one on "billing", a minute apart: none claimed yet.
        H.Time.Advance(TimeSpan.FromMinutes(1));
        var first = H.Time.GetUtcNow();
        await H.Client.StartAsync(remote);
        H.Time.Advance(TimeSpan.FromMinutes(1));
        await H.Client.StartAsync(remote);
        await H.Client.StartAsync(remote, new StartRunOptions { Queue = "billing" });

        var backlog = await H.Store.BacklogAsync(H.Time.GetUtcNow(), CancellationToken.None);
        Assert.Equal(
            [("billing", "run", 1L), ("default", "run", 2L), ("ops", "step", 1L)],
            backlog.Select(b => (b.Queue, b.Kind, b.Count)));
        Assert.Equal(first.ToUnixTimeMilliseconds(), backlog.Single(b => b.Queue == "default").OldestDueAt.ToUnixTimeMilliseconds());
        Assert.Equal(t0.ToUnixTimeMilliseconds(), backlog.Single(b => b.Queue == "ops").OldestDueAt.ToUnixTimeMilliseconds());

        // The sleeper's timer, once due, is work for the default queue too.
        H.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(3L, (await H.Store.BacklogAsync(H.Time.GetUtcNow(), CancellationToken.None)).Single(b => b.Queue == "default").Count);
    }

    [Fact]
    public async Task A_failed_activity_is_retried_on_its_queue_after_the_back_off()
    {
        var calls = 0;
        var activities = new ActivityRegistry().Add("flaky", _ =>
            Interlocked.Increment(ref calls) == 1 ? throw new TimeoutException("upstream slow") : Task.FromResult<JsonNode?>(JsonValue.Create("ok")));
        var options = new StepOptions { Retry = new RetryPolicy { InitialInterval = TimeSpan.FromSeconds(5) } };
        var def = H.Registry.Add("remote", async ctx => await ctx.ActivityAsync("call", "flaky", "ops", null, options));
        var run = (await H.Client.StartAsync(def)).Run;
        var orchestrator = H.Worker("orchestrator");
        var opsWorker = H.Worker("ops-1", new WorkerOptions { Queues = ["ops"] }, activities);

        await orchestrator.RunUntilIdleAsync(CancellationToken.None);
        await opsWorker.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(1, calls);
        Assert.Equal(RunStatus.Waiting, (await H.RunAsync(run.RunId)).Status);
        H.Time.Advance(TimeSpan.FromSeconds(5));
        await opsWorker.RunUntilIdleAsync(CancellationToken.None);
        await orchestrator.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal(2, calls);
        Assert.Equal("\"ok\"", (await H.RunAsync(run.RunId)).Output);
    }

    [Fact]
    public async Task Progress_an_attempt_saves_is_handed_to_the_next_attempt_and_a_stale_owner_cannot_save_any()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handed = new ConcurrentQueue<(int Attempt, string? Progress)>();
        Exception? late = null;
        var def = H.Registry.Add("progress", async ctx =>
        {
            var attempt = await ctx.StepAsync("work", async sc =>
            {
                handed.Enqueue((sc.Attempt, sc.Progress?.ToJsonString()));
                if (sc.Attempt == 1)
                {
                    await sc.SaveProgressAsync(new JsonObject { ["operation"] = "op-1" });
                    Assert.Equal("{\"operation\":\"op-1\"}", sc.Progress!.ToJsonString());
                    entered.TrySetResult();
                    await release.Task;
                    late = await Record.ExceptionAsync(() => sc.SaveProgressAsync(new JsonObject { ["operation"] = "late" }));
                }

                return sc.Attempt;
            });
            return JsonValue.Create(attempt);
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var lease = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30) };

        var stale = H.Worker("w1", lease).RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        H.Time.Advance(TimeSpan.FromSeconds(31)); // w1's lease expires while its attempt runs
        await H.Worker("w2", lease).RunUntilIdleAsync(CancellationToken.None);
        release.SetResult();
        await stale.WaitAsync(Patience);

        Assert.Equal([(1, null), (2, "{\"operation\":\"op-1\"}")], handed.ToArray());
        Assert.IsType<LeaseLostException>(late);
        Assert.Equal(RunStatus.Completed, (await H.RunAsync(run.RunId)).Status);
        var timeline = await H.TimelineAsync(run.RunId);
        var saved = Assert.Single(timeline, e => e.Kind == "step.progress");
        Assert.Equal("worker:w1", saved.Actor);
        Assert.Equal("{\"seq\":1,\"step\":\"work\",\"attempt\":1,\"progress\":{\"operation\":\"op-1\"}}", saved.Data);
        Assert.Null(TimelineChain.Verify(timeline));
    }

    [Fact]
    public async Task An_activity_on_a_queue_hands_its_saved_progress_to_its_retry_and_the_latest_wins()
    {
        var handed = new ConcurrentQueue<string?>();
        var activities = new ActivityRegistry().Add("poll", async sc =>
        {
            handed.Enqueue(sc.Progress?["polled"]?.ToJsonString());
            await sc.SaveProgressAsync(new JsonObject { ["polled"] = sc.Attempt * 10 });
            await sc.SaveProgressAsync(new JsonObject { ["polled"] = (sc.Attempt * 10) + 1 });
            return sc.Attempt < 3 ? throw new TimeoutException("still in progress") : JsonValue.Create("done");
        });
        var options = new StepOptions { Retry = new RetryPolicy { InitialInterval = TimeSpan.FromSeconds(5), BackoffCoefficient = 1 } };
        var def = H.Registry.Add("remote-progress", async ctx => await ctx.ActivityAsync("call", "poll", "ops", null, options));
        var run = (await H.Client.StartAsync(def)).Run;
        var orchestrator = H.Worker("orchestrator");
        var opsWorker = H.Worker("ops-1", new WorkerOptions { Queues = ["ops"] }, activities);

        await orchestrator.RunUntilIdleAsync(CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await opsWorker.RunUntilIdleAsync(CancellationToken.None);
            H.Time.Advance(TimeSpan.FromSeconds(5));
        }

        await orchestrator.RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(new string?[] { null, "11", "21" }, handed.ToArray());
        Assert.Equal("\"done\"", (await H.RunAsync(run.RunId)).Output);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal(6, timeline.Count(e => e.Kind == "step.progress"));
        Assert.All(timeline.Where(e => e.Kind == "step.progress"), e => Assert.Equal("worker:ops-1", e.Actor));
        Assert.Null(TimelineChain.Verify(timeline));
    }

    [Fact]
    public async Task Two_workers_on_two_connections_execute_every_step_exactly_once()
    {
        var counts = new ConcurrentDictionary<string, int>();
        var def = H.Registry.Add("three", async ctx =>
        {
            for (var i = 1; i <= 3; i++)
            {
                var name = $"s{i}";
                await ctx.StepAsync(name, sc => Done(counts.AddOrUpdate($"{sc.RunId}/{name}", 1, (_, n) => n + 1)));
            }

            return null;
        });
        var runs = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            runs.Add((await H.Client.StartAsync(def)).Run.RunId);
        }

        var second = await OpenAsync();
        await Task.WhenAll(
            H.Worker("a", new WorkerOptions { MaxConcurrentRuns = 4 }).RunUntilIdleAsync(CancellationToken.None),
            H.Worker("b", new WorkerOptions { MaxConcurrentRuns = 4 }, store: second).RunUntilIdleAsync(CancellationToken.None)).WaitAsync(Patience);

        foreach (var id in runs)
        {
            Assert.Equal(RunStatus.Completed, (await H.RunAsync(id)).Status);
            Assert.Null(TimelineChain.Verify(await H.TimelineAsync(id)));
        }

        Assert.Equal(60, counts.Count);
        Assert.All(counts.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task A_store_closed_under_a_running_worker_loses_nothing_and_reruns_no_completed_step()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var counts = new ConcurrentDictionary<string, int>();
        var def = H.Registry.Add("closed-under", async ctx =>
        {
            await ctx.StepAsync("s1", sc => Done(counts.AddOrUpdate("s1", 1, (_, n) => n + 1)));
            await ctx.StepAsync("s2", async sc =>
            {
                counts.AddOrUpdate("s2", 1, (_, n) => n + 1);
                if (sc.Attempt == 1)
                {
                    entered.TrySetResult();
                    await release.Task;
                }

                return sc.Attempt;
            });
            await ctx.StepAsync("s3", sc => Done(counts.AddOrUpdate("s3", 1, (_, n) => n + 1)));
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var waiting = (await H.Client.StartAsync(def)).Run; // claimable, but only after the store is closed
        var lease = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30), MaxConcurrentRuns = 1 };

        var closing = await OpenAsync();
        var w1 = H.Worker("w1", lease, store: closing);
        var serving = w1.RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        await closing.DisposeAsync();
        release.SetResult();
        await serving.WaitAsync(Patience); // the worker stops claiming instead of failing

        // A claim on the closed store is refused and claims nothing: the other run is still there to be claimed.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => closing.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 10, H.Time.GetUtcNow(), TimeSpan.FromSeconds(30)), CancellationToken.None));
        Assert.Equal(RunStatus.Ready, (await H.RunAsync(waiting.RunId)).Status);
        var held = await H.RunAsync(run.RunId);
        Assert.Equal((RunStatus.Running, "w1"), (held.Status, held.LeaseOwner)); // s2's completion never reached the store

        H.Time.Advance(TimeSpan.FromSeconds(31));
        await H.Worker("w2", lease).RunUntilIdleAsync(CancellationToken.None).WaitAsync(Patience);
        Assert.Equal(RunStatus.Completed, (await H.RunAsync(run.RunId)).Status);
        Assert.Equal(RunStatus.Completed, (await H.RunAsync(waiting.RunId)).Status);

        // s1 completed before the close and ran once per run; s2 was interrupted and ran again (at least once).
        Assert.Equal((2, 3, 2), (counts["s1"], counts["s2"], counts["s3"]));
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal(1, timeline.Count(e => e.Kind == "step.completed" && e.Data!.Contains("\"step\":\"s1\"", StringComparison.Ordinal)));
        Assert.Single(timeline, e => e.Kind == "step.interrupted");
        Assert.Null(TimelineChain.Verify(timeline));
    }

    /// <summary>Whether this store's claims carry each claimed run's history (<see cref="ClaimedRun.History"/>).</summary>
    protected virtual bool ClaimsCarryHistory => false;

    [Fact]
    public async Task A_claims_history_of_a_new_a_resumed_and_a_recovered_run_is_what_loading_it_reads()
    {
        var def = H.Registry.Add("approval", async ctx =>
        {
            await ctx.StepAsync("prepare", _ => Done("ready"));
            var s = await ctx.WaitForSignalAsync("approve");
            return JsonValue.Create(s!.Sender);
        });

        // Recovered: claimed by a worker that then dies; its lease runs out.
        var recovered = (await H.Client.StartAsync(def)).Run;
        Assert.Equal(recovered.RunId, Assert.Single(await H.Store.ClaimRunsAsync(new ClaimRequest("w0", ["default"], 10, H.Time.GetUtcNow(), TimeSpan.FromSeconds(30)), CancellationToken.None)).Run.RunId);

        // Resumed: ran its first step, waited, and was signalled.
        var resumed = (await H.Client.StartAsync(def)).Run;
        await H.Worker("w9").RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Waiting, (await H.RunAsync(resumed.RunId)).Status);
        Assert.Equal(SignalOutcome.Delivered, await H.Client.SignalAsync(resumed.RunId, "approve", new JsonObject { ["comment"] = "go" }, "user:carol"));

        // New, with a signal sent before anything ran.
        var fresh = (await H.Client.StartAsync(def)).Run;
        Assert.Equal(SignalOutcome.Delivered, await H.Client.SignalAsync(fresh.RunId, "approve", null, "user:dave"));
        Assert.Equal(SignalOutcome.Delivered, await H.Client.SignalAsync(fresh.RunId, "approve", JsonValue.Create(2), "user:erin"));

        H.Time.Advance(TimeSpan.FromSeconds(31));
        var claimed = await H.Store.ClaimRunsAsync(new ClaimRequest("w1", ["default"], 10, H.Time.GetUtcNow(), TimeSpan.FromSeconds(30)), CancellationToken.None);

        Assert.Equal(new[] { fresh.RunId, recovered.RunId, resumed.RunId }.Order(StringComparer.Ordinal), claimed.Select(c => c.Run.RunId).Order(StringComparer.Ordinal));
        Assert.Equal("w0", Assert.Single(claimed, c => c.Run.RunId == recovered.RunId).PreviousOwner);
        foreach (var c in claimed)
        {
            Assert.Equal(ClaimsCarryHistory, c.History is not null);
            var loaded = await H.Store.LoadHistoryAsync(c.Run.RunId, CancellationToken.None);
            Assert.Equal(loaded.Run, c.Run);
            if (c.History is { } carried)
            {
                Assert.Equal(loaded.Run, carried.Run);
                Assert.Equal(loaded.Steps, carried.Steps);
                Assert.Equal(loaded.PendingSignals, carried.PendingSignals);
            }
        }

        var history = await H.Store.LoadHistoryAsync(resumed.RunId, CancellationToken.None);
        Assert.Equal(["prepare", "wait:approve"], history.Steps.Select(s => s.Name));
        Assert.Equal(["user:carol"], history.PendingSignals.Select(s => s.Sender));
        Assert.Equal(["user:dave", "user:erin"], (await H.Store.LoadHistoryAsync(fresh.RunId, CancellationToken.None)).PendingSignals.Select(s => s.Sender));
        Assert.Equal("w1", (await H.RunAsync(recovered.RunId)).LeaseOwner);
    }

    [Fact]
    public async Task A_signal_that_arrives_while_the_run_executes_is_not_lost()
    {
        var def = H.Registry.Add("self-approval", async ctx =>
        {
            // The signal is stored after this execution loaded the run's history, before it suspends.
            await ctx.StepAsync("page-oncall", async sc =>
                (await H.Client.SignalAsync(sc.RunId, "ack", JsonValue.Create("on it"), "user:frank")).ToString());
            var ack = await ctx.WaitForSignalAsync("ack");
            return ack!.Payload;
        });
        var run = (await H.Client.StartAsync(def)).Run;

        await H.Worker().RunUntilIdleAsync(CancellationToken.None);

        var done = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("\"on it\"", done.Output);
    }

    [Fact]
    public async Task The_heartbeat_keeps_a_long_step_leased_so_no_other_worker_takes_it()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        var def = H.Registry.Add("long", async ctx =>
        {
            await ctx.StepAsync("resize-disk", async _ =>
            {
                Interlocked.Increment(ref runs);
                entered.TrySetResult();
                await release.Task;
                return 1;
            });
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        var options = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30), HeartbeatInterval = TimeSpan.FromSeconds(9) };
        using var stop = new CancellationTokenSource();
        var heartbeatTimer = H.Time.WaitForTimerAsync(TimeSpan.FromSeconds(9));
        var serving = H.Worker("holder", options).RunAsync(stop.Token);
        await entered.Task.WaitAsync(Patience);
        await heartbeatTimer.WaitAsync(Patience);

        // Four heartbeats carry the lease across 36 s, longer than the 30 s lease itself.
        for (var beat = 1; beat <= 4; beat++)
        {
            H.Time.Advance(TimeSpan.FromSeconds(9));
            var expected = H.Time.GetUtcNow() + TimeSpan.FromSeconds(30);
            await UntilAsync(async () => (await H.RunAsync(run.RunId)).LeaseExpiresAt >= expected);
        }

        Assert.Equal(0, await H.Worker("intruder", options).RunUntilIdleAsync(CancellationToken.None));
        Assert.Equal("holder", (await H.RunAsync(run.RunId)).LeaseOwner);
        release.SetResult();
        await UntilAsync(async () => (await H.RunAsync(run.RunId)).Status == RunStatus.Completed);
        await stop.CancelAsync();
        await serving.WaitAsync(Patience);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task An_interrupted_activity_is_retried_by_another_worker_and_the_stale_result_is_fenced()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var activities = new ActivityRegistry().Add("drain", async sc =>
        {
            if (sc.Attempt == 1)
            {
                entered.TrySetResult();
                await release.Task;
            }

            return JsonValue.Create($"drained by attempt {sc.Attempt}");
        });
        var def = H.Registry.Add("remote", async ctx => await ctx.ActivityAsync("drain-node", "drain", "ops"));
        var run = (await H.Client.StartAsync(def)).Run;
        var opsOptions = new WorkerOptions { Queues = ["ops"], LeaseDuration = TimeSpan.FromSeconds(30) };
        var orchestrator = H.Worker("orchestrator");
        await orchestrator.RunUntilIdleAsync(CancellationToken.None);

        var stale = H.Worker("ops-1", opsOptions, activities).RunUntilIdleAsync(CancellationToken.None);
        await entered.Task.WaitAsync(Patience);
        H.Time.Advance(TimeSpan.FromSeconds(31));
        await H.Worker("ops-2", opsOptions, activities).RunUntilIdleAsync(CancellationToken.None);
        release.SetResult();
        await stale.WaitAsync(Patience);
        await orchestrator.RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal("\"drained by attempt 2\"", (await H.RunAsync(run.RunId)).Output);
        var timeline = await H.TimelineAsync(run.RunId);
        Assert.Equal("worker:ops-2", Assert.Single(timeline, e => e.Kind == "step.interrupted").Actor);
        Assert.Equal("worker:ops-1", Assert.Single(timeline, e => e.Kind == "lease.fenced").Actor);
        Assert.Equal("worker:ops-2", Assert.Single(timeline, e => e.Kind == "step.completed").Actor);
        Assert.Null(TimelineChain.Verify(timeline));
    }

    /// <summary>Waits for a condition that a background continuation makes true; bounded, and yields instead of sleeping.</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(waited.Elapsed < Patience, "condition not reached in time");
            await Task.Yield();
        }
    }

    [Fact]
    public async Task Listing_filters_by_status_workflow_and_creation_time()
    {
        var quick = H.Registry.Add("quick", _ => Task.FromResult<JsonNode?>(null));
        var slow = H.Registry.Add("slow", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            return null;
        });
        var t0 = H.Time.GetUtcNow();
        await H.Client.StartAsync(quick);
        H.Time.Advance(TimeSpan.FromMinutes(1));
        var s1 = (await H.Client.StartAsync(slow)).Run;
        H.Time.Advance(TimeSpan.FromMinutes(1));
        var s2 = (await H.Client.StartAsync(slow)).Run;
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);

        Assert.Single(await H.Client.ListRunsAsync(new RunQuery { Status = RunStatus.Completed }));
        Assert.Equal([s2.RunId, s1.RunId], (await H.Client.ListRunsAsync(new RunQuery { WorkflowName = "slow" })).Select(r => r.RunId));
        Assert.Equal([s2.RunId], (await H.Client.ListRunsAsync(new RunQuery { CreatedFrom = t0 + TimeSpan.FromMinutes(2) })).Select(r => r.RunId));
        Assert.Equal(2, (await H.Client.ListRunsAsync(new RunQuery { CreatedBefore = t0 + TimeSpan.FromMinutes(2) })).Count);
        Assert.Single(await H.Client.ListRunsAsync(new RunQuery { Limit = 1 }));
        Assert.Equal(2, (await H.Client.ListRunsAsync(new RunQuery { Status = RunStatus.Waiting })).Count);
    }

    [Fact]
    public async Task Pages_through_runs_created_at_the_same_instant_by_cursor_and_filters_by_starter()
    {
        var quick = H.Registry.Add("quick", _ => Task.FromResult<JsonNode?>(null));
        var started = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            // Three share one instant: a cursor of creation time alone would skip or repeat them.
            if (i is 1 or 4)
            {
                H.Time.Advance(TimeSpan.FromSeconds(1));
            }

            started.Add((await H.Client.StartAsync(quick, new StartRunOptions { Actor = i % 2 == 0 ? "alert:grafana/HighLatency" : "user:ada" })).Run.RunId);
        }

        var all = await H.Client.ListRunsAsync(new RunQuery { Limit = 100 });
        var paged = new List<string>();
        RunRecord? last = null;
        while (true)
        {
            var page = await H.Client.ListRunsAsync(new RunQuery { Limit = 2, CreatedBefore = last?.CreatedAt, BeforeRunId = last?.RunId });
            if (page.Count == 0)
            {
                break;
            }

            paged.AddRange(page.Select(r => r.RunId));
            last = page[^1];
        }

        Assert.Equal(all.Select(r => r.RunId), paged);
        Assert.Equal(started.Order(StringComparer.Ordinal), paged.Order(StringComparer.Ordinal));
        Assert.Equal(
            [.. all.Where(r => r.CreatedBy.StartsWith("alert:", StringComparison.Ordinal)).Select(r => r.RunId)],
            (await H.Client.ListRunsAsync(new RunQuery { StartedByPrefix = "alert:" })).Select(r => r.RunId));
        Assert.Equal(4, (await H.Client.ListRunsAsync(new RunQuery { StartedByPrefix = "alert:grafana/" })).Count);
        Assert.Equal(3, (await H.Client.ListRunsAsync(new RunQuery { StartedByPrefix = "user:ada" })).Count);
        Assert.Empty(await H.Client.ListRunsAsync(new RunQuery { StartedByPrefix = "user:adam" }));
        Assert.Empty(await H.Client.ListRunsAsync(new RunQuery { StartedByPrefix = "%" }));
    }

    [Fact]
    public async Task Runs_are_listed_by_target_newest_first_and_paged_by_cursor()
    {
        var def = H.Registry.Add("targeted", _ => Task.FromResult<JsonNode?>(null));
        RunGuard Any(string key) => new(key, _ => new GuardVerdict(true, "ok", "allowed", "{}"));
        var web1 = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            web1.Add((await H.Client.StartAsync(def, new StartRunOptions { Guard = Any("targeted/web-1") })).Run.RunId);
            await H.Client.StartAsync(def, new StartRunOptions { Guard = Any("targeted/web-2") });
            await H.Client.StartAsync(def); // no guard: no target
            H.Time.Advance(TimeSpan.FromSeconds(1));
        }

        var all = await H.Client.ListRunsAsync(new RunQuery { Target = "targeted/web-1", Limit = 100 });
        Assert.Equal(Enumerable.Reverse(web1), all.Select(r => r.RunId));
        var first = await H.Client.ListRunsAsync(new RunQuery { Target = "targeted/web-1", Limit = 2 });
        var next = await H.Client.ListRunsAsync(new RunQuery { Target = "targeted/web-1", Limit = 10, CreatedBefore = first[^1].CreatedAt, BeforeRunId = first[^1].RunId });
        Assert.Equal(all.Select(r => r.RunId), first.Concat(next).Select(r => r.RunId));
        Assert.Empty(await H.Client.ListRunsAsync(new RunQuery { Target = "targeted/web-9" }));
        Assert.Equal(15, (await H.Client.ListRunsAsync(new RunQuery { Limit = 100 })).Count);
    }

    /// <summary>A test policy: one live run per key; the state counts admissions and every ended run it was shown.</summary>
    private static RunGuard OneLive(string key, List<GuardContext> seen, bool enforce = true) => new(
        key,
        ctx =>
        {
            seen.Add(ctx);
            var (admitted, ended) = ctx.State is null ? (0, "") : (int.Parse(ctx.State.Split('|')[0], System.Globalization.CultureInfo.InvariantCulture), ctx.State.Split('|')[1]);
            ended += string.Concat(ctx.Ended.Select(r => r.Status.ToStoredName()[0]));
            var allowed = ctx.Live.Count == 0;
            var reason = allowed ? "no live run" : $"run {ctx.Live[0].RunId} is live";
            return new GuardVerdict(allowed, $"{admitted + (allowed ? 1 : 0)}|{ended}", reason, new JsonObject { ["reason"] = reason }.ToJsonString());
        },
        enforce);

    [Fact]
    public async Task A_guard_decides_in_the_store_records_its_decision_and_a_blocked_run_never_executes()
    {
        var executed = 0;
        var gate = H.Registry.Add("gated", async ctx =>
        {
            Interlocked.Increment(ref executed);
            await ctx.WaitForSignalAsync("go");
            return null;
        });
        var seen = new List<GuardContext>();

        var first = await H.Client.StartAsync(gate, new StartRunOptions { Guard = OneLive("gated/web-1", seen), Actor = "alert:am" });
        H.Time.Advance(TimeSpan.FromSeconds(1));
        var second = await H.Client.StartAsync(gate, new StartRunOptions { Guard = OneLive("gated/web-1", seen), Actor = "alert:am" });
        var otherKey = await H.Client.StartAsync(gate, new StartRunOptions { Guard = OneLive("gated/web-2", seen) });
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);

        Assert.Equal(RunStatus.Waiting, (await H.RunAsync(first.Run.RunId)).Status);
        Assert.Equal(RunStatus.Waiting, (await H.RunAsync(otherKey.Run.RunId)).Status);
        var blocked = await H.RunAsync(second.Run.RunId);
        Assert.True(second.Created);
        Assert.Equal(RunStatus.Blocked, blocked.Status);
        Assert.Equal("GuardBlocked", blocked.ErrorKind);
        Assert.Equal($"run {first.Run.RunId} is live", blocked.ErrorMessage);
        Assert.Equal(H.Time.GetUtcNow().ToUnixTimeMilliseconds(), blocked.CompletedAt!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(2, executed); // the blocked run was never claimed
        Assert.Equal(["run.created", "guard.allowed", "run.claimed"], (await H.KindsAsync(first.Run.RunId)).Take(3));
        Assert.Equal(["run.created", "guard.blocked"], await H.KindsAsync(second.Run.RunId));
        var blockedEvent = (await H.TimelineAsync(second.Run.RunId))[1];
        Assert.Equal("guard", blockedEvent.Actor);
        Assert.Contains("is live", blockedEvent.Data, StringComparison.Ordinal);
        Assert.Null(TimelineChain.Verify(await H.TimelineAsync(second.Run.RunId)));
        Assert.Equal([first.Run.RunId], seen[1].Live.Select(r => r.RunId)); // the second start saw the first as live
        Assert.Equal(RunStatus.Blocked, Assert.Single(await H.Client.ListRunsAsync(new RunQuery { Status = RunStatus.Blocked })).Status);

        // Once the live run ends, the next start is shown that end exactly once, and is allowed.
        await H.Client.SignalAsync(first.Run.RunId, "go", null, "user:alice");
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        var third = await H.Client.StartAsync(gate, new StartRunOptions { Guard = OneLive("gated/web-1", seen) });
        Assert.Equal(RunStatus.Ready, third.Run.Status);
        Assert.Equal([first.Run.RunId], seen[^1].Ended.Select(r => r.RunId));
        Assert.Equal(RunStatus.Completed, seen[^1].Ended[0].Status);
        Assert.NotNull(seen[^1].Ended[0].CompletedAt);

        var guard = Assert.Single(await H.Store.ListGuardsAsync("gated/web-1", 10, CancellationToken.None));
        Assert.Equal("2|c", guard.State);
        Assert.Equal([third.Run.RunId], guard.Live.Select(r => r.RunId));
        Assert.Empty(guard.Ended);
        Assert.Equal(["gated/web-1", "gated/web-2"], (await H.Store.ListGuardsAsync(null, 10, CancellationToken.None)).Select(g => g.Key).Order());
    }

    [Fact]
    public async Task An_unenforced_guard_records_its_decision_but_changes_nothing_and_the_run_does_not_count()
    {
        var def = H.Registry.Add("waits", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            return null;
        });
        var seen = new List<GuardContext>();
        var live = await H.Client.StartAsync(def, new StartRunOptions { Guard = OneLive("waits/x", seen) });
        var dry = await H.Client.StartAsync(def, new StartRunOptions { Guard = OneLive("waits/x", seen, enforce: false) });

        Assert.Equal(RunStatus.Ready, dry.Run.Status); // would be blocked, but a dry-run is only told
        Assert.Equal(["run.created", "guard.blocked"], await H.KindsAsync(dry.Run.RunId));
        var guard = Assert.Single(await H.Store.ListGuardsAsync("waits/x", 10, CancellationToken.None));
        Assert.Equal("1|", guard.State);
        Assert.Equal([live.Run.RunId], guard.Live.Select(r => r.RunId));
    }

    [Fact]
    public async Task A_guard_reset_forgets_ended_runs_clears_the_state_and_is_recorded()
    {
        var fails = H.Registry.Add("fails", _ => throw new StepException("Boom", "no", nonRetryable: true));
        var seen = new List<GuardContext>();
        var r1 = await H.Client.StartAsync(fails, new StartRunOptions { Guard = OneLive("fails/db", seen) });
        await H.Worker().RunUntilIdleAsync(CancellationToken.None);
        Assert.Equal(RunStatus.Failed, (await H.RunAsync(r1.Run.RunId)).Status);
        Assert.Equal([r1.Run.RunId], Assert.Single(await H.Store.ListGuardsAsync("fails/db", 10, CancellationToken.None)).Ended.Select(r => r.RunId));

        H.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(await H.Store.ResetGuardAsync("fails/nope", new GuardReset(H.Time.GetUtcNow(), "user:alice", "fixed"), CancellationToken.None));
        Assert.True(await H.Store.ResetGuardAsync("fails/db", new GuardReset(H.Time.GetUtcNow(), "user:alice", "disk replaced"), CancellationToken.None));

        var guard = Assert.Single(await H.Store.ListGuardsAsync("fails/db", 10, CancellationToken.None));
        Assert.Null(guard.State);
        Assert.Empty(guard.Ended);
        Assert.Equal(new GuardReset(H.Time.GetUtcNow(), "user:alice", "disk replaced"), guard.LastReset);
        await H.Client.StartAsync(fails, new StartRunOptions { Guard = OneLive("fails/db", seen) });
        Assert.Null(seen[^1].State);
        Assert.Empty(seen[^1].Ended);
        Assert.Equal("disk replaced", seen[^1].LastReset!.Reason);
        Assert.Empty(await H.Store.ListGuardsAsync("fails/nope", 10, CancellationToken.None));
    }

    [Fact]
    public async Task Guarded_starts_racing_on_two_connections_admit_exactly_one()
    {
        var def = H.Registry.Add("race", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            return null;
        });
        var other = new WorkflowClient(await OpenAsync(), H.Time);
        var starts = Enumerable.Range(0, 16).Select(i => (i % 2 == 0 ? H.Client : other).StartAsync(def, new StartRunOptions { Guard = OneLive("race/k", []) }));
        var results = await Task.WhenAll(starts);

        Assert.Single(results, r => r.Run.Status == RunStatus.Ready);
        Assert.Equal(15, results.Count(r => r.Run.Status == RunStatus.Blocked));
        Assert.Equal("1|", Assert.Single(await H.Store.ListGuardsAsync("race/k", 10, CancellationToken.None)).State);
    }

    [Fact]
    public async Task Graceful_shutdown_lets_an_in_flight_step_finish()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var def = H.Registry.Add("finish", async ctx =>
        {
            await ctx.StepAsync("work", async _ =>
            {
                entered.TrySetResult();
                await release.Task;
                return 1;
            });
            return null;
        });
        var run = (await H.Client.StartAsync(def)).Run;
        using var stop = new CancellationTokenSource();
        var worker = H.Worker(options: new WorkerOptions { ShutdownTimeout = TimeSpan.FromMinutes(1) });
        var serving = worker.RunAsync(stop.Token);
        await entered.Task.WaitAsync(Patience);
        await stop.CancelAsync();
        release.SetResult();
        await serving.WaitAsync(Patience);

        Assert.Equal(RunStatus.Completed, (await H.RunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task Shutdown_past_its_deadline_releases_the_run_for_another_worker_at_once()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var def = H.Registry.Add("stuck", async ctx =>
        {
            var attempt = await ctx.StepAsync("work", async sc =>
            {
                if (sc.Attempt == 1)
                {
                    entered.TrySetResult();
                    await Task.Delay(Timeout.Infinite, sc.CancellationToken);
                }

                return sc.Attempt;
            });
            return JsonValue.Create(attempt);
        });
        var run = (await H.Client.StartAsync(def)).Run;
        using var stop = new CancellationTokenSource();
        var drainTimer = H.Time.WaitForTimerAsync(TimeSpan.FromSeconds(7)); // distinct from the 10 s heartbeat timer
        var serving = H.Worker("leaving", new WorkerOptions { ShutdownTimeout = TimeSpan.FromSeconds(7) }).RunAsync(stop.Token);
        await entered.Task.WaitAsync(Patience);
        await stop.CancelAsync();
        await drainTimer.WaitAsync(Patience);
        H.Time.Advance(TimeSpan.FromSeconds(7));
        await serving.WaitAsync(Patience);

        Assert.Contains("run.released", await H.KindsAsync(run.RunId));
        await H.Worker("staying").RunUntilIdleAsync(CancellationToken.None);
        var done = await H.RunAsync(run.RunId);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("2", done.Output);
    }

    [Fact]
    public async Task The_journal_keeps_what_was_received_for_no_run_newest_first_filtered_and_paged()
    {
        var t0 = H.Time.GetUtcNow();
        Assert.Empty(await H.Store.ListJournalAsync(new JournalQuery(), CancellationToken.None));
        await H.Store.AppendJournalAsync(
            [
                new NewJournalEntry(t0, "alertmanager", "unmatched", "Watchdog", """{"fingerprint":"fp-1"}"""),
                new NewJournalEntry(t0, "grafana", "invalid", "DiskFull", """{"reason":"host is not valid"}"""),
            ],
            CancellationToken.None);
        await H.Store.AppendJournalAsync([], CancellationToken.None);
        await H.Store.AppendJournalAsync([new NewJournalEntry(t0 + TimeSpan.FromSeconds(1), "alertmanager", "unmatched", "Heartbeat", null)], CancellationToken.None);

        var all = await H.Store.ListJournalAsync(new JournalQuery(), CancellationToken.None);
        Assert.Equal(["Heartbeat", "DiskFull", "Watchdog"], all.Select(e => e.Subject));
        Assert.True(all[0].Id > all[1].Id && all[1].Id > all[2].Id);
        Assert.Equal((t0 + TimeSpan.FromSeconds(1), "alertmanager", "unmatched", (string?)null), (all[0].At, all[0].Source, all[0].Kind, all[0].Data));
        Assert.Equal("""{"reason":"host is not valid"}""", all[1].Data);

        Assert.Equal(["Heartbeat", "Watchdog"], (await H.Store.ListJournalAsync(new JournalQuery { Kind = "unmatched" }, CancellationToken.None)).Select(e => e.Subject));
        Assert.Equal(["DiskFull"], (await H.Store.ListJournalAsync(new JournalQuery { Source = "grafana" }, CancellationToken.None)).Select(e => e.Subject));
        Assert.Equal(["Heartbeat"], (await H.Store.ListJournalAsync(new JournalQuery { Limit = 1 }, CancellationToken.None)).Select(e => e.Subject));
        Assert.Equal(["DiskFull", "Watchdog"], (await H.Store.ListJournalAsync(new JournalQuery { BeforeId = all[0].Id }, CancellationToken.None)).Select(e => e.Subject));
    }

    [Fact]
    public async Task Drill_reports_are_kept_newest_first_filtered_paged_and_read_back_whole()
    {
        var t0 = H.Time.GetUtcNow();
        Assert.Empty(await H.Store.ListDrillReportsAsync(new DrillReportQuery(), CancellationToken.None));
        Assert.Null(await H.Store.GetDrillReportAsync(1, CancellationToken.None));
        var report = """{"drill":"disk-full","passed":true,"checks":[{"name":"outcome","passed":true}],"note":"ünïcode ✓"}""";
        var first = await H.Store.AppendDrillReportAsync(new NewDrillReport(t0, "disk-full", "disk-full-cleanup", true, "user:alice", "replay", report), CancellationToken.None);
        var second = await H.Store.AppendDrillReportAsync(new NewDrillReport(t0 + TimeSpan.FromSeconds(1), "breaker", "restart", false, "user:bob", "replay", "{}"), CancellationToken.None);
        var third = await H.Store.AppendDrillReportAsync(new NewDrillReport(t0 + TimeSpan.FromSeconds(2), "disk-full", "disk-full-cleanup", false, "user:alice", "live", "{}"), CancellationToken.None);

        Assert.True(first.Id < second.Id && second.Id < third.Id);
        Assert.Equal((t0, "disk-full", "disk-full-cleanup", true, "user:alice", "replay", report), (first.At, first.Drill, first.Runbook, first.Passed, first.Actor, first.Mode, first.Report));
        Assert.Equal(first, await H.Store.GetDrillReportAsync(first.Id, CancellationToken.None));
        Assert.Equal([third.Id, second.Id, first.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery(), CancellationToken.None)).Select(r => r.Id));
        Assert.Equal([third.Id, first.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery { Drill = "disk-full" }, CancellationToken.None)).Select(r => r.Id));
        Assert.Equal([second.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery { Runbook = "restart" }, CancellationToken.None)).Select(r => r.Id));
        Assert.Equal([third.Id, second.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery { Passed = false }, CancellationToken.None)).Select(r => r.Id));
        Assert.Equal([first.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery { Passed = true }, CancellationToken.None)).Select(r => r.Id));
        Assert.Equal([third.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery { Limit = 1 }, CancellationToken.None)).Select(r => r.Id));
        Assert.Equal([second.Id, first.Id], (await H.Store.ListDrillReportsAsync(new DrillReportQuery { BeforeId = third.Id }, CancellationToken.None)).Select(r => r.Id));
        Assert.Equal("live", (await H.Store.GetDrillReportAsync(third.Id, CancellationToken.None))!.Mode);
    }
    [Fact]
    public async Task Console_sessions_are_read_touched_ended_and_swept_and_one_token_holds_a_bounded_number()
    {
        var t0 = H.Time.GetUtcNow();
        var idle = TimeSpan.FromHours(1);
        Assert.Null(await H.Store.GetSessionAsync("nope", CancellationToken.None));
        var a = new ConsoleSession("a1", "token-a", t0, t0 + TimeSpan.FromHours(12), t0);
        await H.Store.OpenSessionAsync(a, t0 - idle, 3, CancellationToken.None);
        Assert.Equal(a, await H.Store.GetSessionAsync("a1", CancellationToken.None));

        // A touch moves the last use forward, never back.
        await H.Store.TouchSessionAsync("a1", t0 + TimeSpan.FromMinutes(10), CancellationToken.None);
        await H.Store.TouchSessionAsync("a1", t0 + TimeSpan.FromMinutes(5), CancellationToken.None);
        await H.Store.TouchSessionAsync("missing", t0, CancellationToken.None);
        Assert.Equal(t0 + TimeSpan.FromMinutes(10), (await H.Store.GetSessionAsync("a1", CancellationToken.None))!.LastSeen);

        // Opening sweeps sessions past their expiry or unused since idleBefore; live ones of other tokens stay.
        var expiring = new ConsoleSession("b1", "token-b", t0, t0 + TimeSpan.FromMinutes(30), t0 + TimeSpan.FromMinutes(29));
        await H.Store.OpenSessionAsync(expiring, t0 - idle, 3, CancellationToken.None);
        var later = t0 + TimeSpan.FromMinutes(40);
        await H.Store.OpenSessionAsync(new ConsoleSession("c1", "token-c", later, later + TimeSpan.FromHours(12), later), later - idle, 3, CancellationToken.None);
        Assert.Null(await H.Store.GetSessionAsync("b1", CancellationToken.None));
        Assert.NotNull(await H.Store.GetSessionAsync("a1", CancellationToken.None));
        var muchLater = t0 + TimeSpan.FromMinutes(75);
        await H.Store.OpenSessionAsync(new ConsoleSession("c2", "token-c", muchLater, muchLater + TimeSpan.FromHours(12), muchLater), muchLater - idle, 3, CancellationToken.None);
        Assert.Null(await H.Store.GetSessionAsync("a1", CancellationToken.None)); // last used at +10 min, idle by +75
        Assert.NotNull(await H.Store.GetSessionAsync("c1", CancellationToken.None));

        // At most three per token: the oldest give way.
        for (var i = 3; i <= 5; i++)
        {
            var at = muchLater + TimeSpan.FromSeconds(i);
            await H.Store.OpenSessionAsync(new ConsoleSession($"c{i}", "token-c", at, at + TimeSpan.FromHours(12), at), at - idle, 3, CancellationToken.None);
        }

        var left = new List<string>();
        for (var i = 1; i <= 5; i++)
        {
            if (await H.Store.GetSessionAsync($"c{i}", CancellationToken.None) is { } s)
            {
                left.Add(s.Id);
            }
        }

        Assert.Equal(["c3", "c4", "c5"], left);
        await H.Store.EndSessionAsync("c4", CancellationToken.None);
        await H.Store.EndSessionAsync("c4", CancellationToken.None);
        Assert.Null(await H.Store.GetSessionAsync("c4", CancellationToken.None));
        Assert.NotNull(await H.Store.GetSessionAsync("c5", CancellationToken.None));
    }
    [Fact]
    public async Task Live_drill_scripts_are_replaced_read_until_they_expire_and_ended()
    {
        var t0 = H.Time.GetUtcNow();
        Assert.Null(await H.Store.GetLiveDrillScriptAsync("gd", t0, CancellationToken.None));
        await H.Store.SetLiveDrillScriptAsync(new LiveDrillScript("gd", """{"live":[]}""", "user:ann", t0, t0 + TimeSpan.FromHours(1)), CancellationToken.None);
        await H.Store.SetLiveDrillScriptAsync(new LiveDrillScript("gd", """{"live":["restart"]}""", "user:bob", t0, t0 + TimeSpan.FromHours(1)), CancellationToken.None);
        await H.Store.SetLiveDrillScriptAsync(new LiveDrillScript("old", """{"live":[]}""", "user:bob", t0, t0 + TimeSpan.FromMinutes(5)), CancellationToken.None);
        var read = await H.Store.GetLiveDrillScriptAsync("gd", t0, CancellationToken.None);
        Assert.Equal(("""{"live":["restart"]}""", "user:bob", t0 + TimeSpan.FromHours(1)), (read!.Script, read.Actor, read.ExpiresAt));

        // Past its expiry it no longer applies; ending one drill sweeps every expired one too.
        Assert.Null(await H.Store.GetLiveDrillScriptAsync("old", t0 + TimeSpan.FromMinutes(5), CancellationToken.None));
        await H.Store.EndLiveDrillScriptAsync("gd", t0 + TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.Null(await H.Store.GetLiveDrillScriptAsync("gd", t0, CancellationToken.None));
        Assert.Null(await H.Store.GetLiveDrillScriptAsync("old", t0, CancellationToken.None));
    }
    [Fact]
    public async Task A_guard_counts_another_engines_runs_from_its_ledger_with_the_kernels_own()
    {
        var seen = new List<GuardContext>();
        var t0 = H.Time.GetUtcNow();
        var guarded = H.Registry.Add("guarded", _ => Task.FromResult<JsonNode?>(null));

        // Another engine's run is admitted and counted live: a second one, and a kernel run of the key, are refused.
        var first = await H.Store.AdmitExternalRunAsync(OneLive("ext/web-1", seen), "run_t1", t0, CancellationToken.None);
        Assert.True(first!.Allowed);
        Assert.Null(await H.Store.AdmitExternalRunAsync(OneLive("ext/web-1", seen), "run_t1", t0, CancellationToken.None)); // asked again: already in
        var second = await H.Store.AdmitExternalRunAsync(OneLive("ext/web-1", seen), "run_t2", t0, CancellationToken.None);
        Assert.Equal((false, "run run_t1 is live"), (second!.Allowed, second.Reason));
        Assert.Equal(["run_t1"], await H.Store.ListLiveExternalRunsAsync("ext/web-1", CancellationToken.None));
        var kernel = await H.Client.StartAsync(guarded, new StartRunOptions { Guard = OneLive("ext/web-1", seen) });
        Assert.Equal(RunStatus.Blocked, kernel.Run.Status);

        // It ends (failed, two failed steps): the next decision is shown it once, as the kernel's runs are.
        Assert.True(await H.Store.EndExternalRunAsync("run_t1", RunStatus.Failed, "ExitCode", 2, t0 + TimeSpan.FromMinutes(1), CancellationToken.None));
        Assert.False(await H.Store.EndExternalRunAsync("run_t1", RunStatus.Failed, "ExitCode", 2, t0 + TimeSpan.FromMinutes(1), CancellationToken.None));
        Assert.False(await H.Store.EndExternalRunAsync("run_never", RunStatus.Completed, null, 0, t0, CancellationToken.None));
        Assert.Empty(await H.Store.ListLiveExternalRunsAsync("ext/web-1", CancellationToken.None));
        var guards = await H.Store.ListGuardsAsync("ext/web-1", 1, CancellationToken.None);
        var shown = Assert.Single(Assert.Single(guards).Ended);
        Assert.Equal(("run_t1", RunStatus.Failed, "ExitCode", 2), (shown.RunId, shown.Status, shown.ErrorKind, shown.FailedSteps));
        var third = await H.Store.AdmitExternalRunAsync(OneLive("ext/web-1", seen), "run_t3", t0 + TimeSpan.FromMinutes(2), CancellationToken.None);
        Assert.True(third!.Allowed);
        Assert.Equal("run_t1", Assert.Single(seen[^1].Ended).RunId);
        Assert.Equal("2|f", third.State);

        // A kernel run of the key that is live refuses the other engine's run too; a reset forgets what ended.
        Assert.True(await H.Store.EndExternalRunAsync("run_t3", RunStatus.Completed, null, 0, t0 + TimeSpan.FromMinutes(3), CancellationToken.None));
        var live = await H.Client.StartAsync(guarded, new StartRunOptions { Guard = OneLive("ext/web-1", seen) });
        Assert.NotEqual(RunStatus.Blocked, live.Run.Status);
        var refused = await H.Store.AdmitExternalRunAsync(OneLive("ext/web-1", seen), "run_t4", t0 + TimeSpan.FromMinutes(4), CancellationToken.None);
        Assert.Equal($"run {live.Run.RunId} is live", refused!.Reason);
        Assert.True(await H.Store.ResetGuardAsync("ext/web-1", new GuardReset(t0 + TimeSpan.FromMinutes(5), "user:ann", "drill over"), CancellationToken.None));
        Assert.Empty(Assert.Single(await H.Store.ListGuardsAsync("ext/web-1", 1, CancellationToken.None)).Ended);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => H.Store.EndExternalRunAsync("run_t4", RunStatus.Running, null, 0, t0, CancellationToken.None));
    }
}
