using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>Guards decided in the real SQLite store through the service, with a manual clock.</summary>
public sealed class GuardTests : IAsyncLifetime
{
    // A run fails when its input says so: shell exits with the given code, once (no retries).
    private const string Guarded = """
        name: restart-service
        inputs:
          host: { type: string }
          code: { type: number, default: 0 }
        guards:
          target: "${{ inputs.host }}"
          max_live: 1
          cooldown: 5m
          rate: { max: 4, per: 1h }
          breaker: { failures: 2, window: 30m, open_for: 10m }
        steps:
          - id: restart
            action: shell
            with: { command: "exit ${{ inputs.code }}" }
            retry: { max_attempts: 1 }
        """;

    private RunbookTestHost host = null!;
    private LocalRunbookService service = null!;
    private readonly Caller alice = new("user:alice", []);

    public async Task InitializeAsync()
    {
        host = await RunbookTestHost.CreateAsync();
        await File.WriteAllTextAsync(Path.Combine(host.Directory, "restart-service.yaml"), Guarded);
        service = new LocalRunbookService(host.Store, host.Actions, [host.Directory], "test", host.Time);
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    private async Task<RunView> StartAsync(string hostName, int code = 0, bool dryRun = false) =>
        (await service.StartAsync(new StartRequest { Runbook = "restart-service", Inputs = new Dictionary<string, string> { ["host"] = hostName, ["code"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture) }, DryRun = dryRun }, alice, CancellationToken.None)).Run;

    /// <summary>Starts a run and executes it to its end.</summary>
    private async Task<RunView> RunAsync(string hostName, int code = 0)
    {
        var run = await StartAsync(hostName, code);
        await host.DrainAsync();
        return await service.GetRunAsync(run.RunId, CancellationToken.None);
    }

    private async Task<JsonObject> GuardEventAsync(string runId) =>
        JsonNode.Parse((await host.TimelineAsync(runId)).Single(e => e.Kind.StartsWith("guard.", StringComparison.Ordinal)).Data!)!.AsObject();

    private async Task<GuardView> GuardAsync(string key) => (await service.ListGuardsAsync(null, CancellationToken.None)).Single(g => g.Key == key);

    [Fact]
    public async Task One_live_run_per_target_and_other_targets_are_independent()
    {
        var first = await StartAsync("web-1");
        var second = await StartAsync("web-1");
        var other = await StartAsync("web-2");

        Assert.Equal("ready", first.Status);
        Assert.Equal("blocked", second.Status);
        Assert.Equal("GuardBlocked", second.ErrorKind);
        Assert.Equal($"1 live run for target 'web-1' (at most 1): {first.RunId}", second.Error);
        Assert.Equal("ready", other.Status);
        var blocked = await GuardEventAsync(second.RunId);
        Assert.Equal("restart-service/web-1", blocked["key"]!.GetValue<string>());
        Assert.Equal("web-1", blocked["target"]!.GetValue<string>());
        Assert.False(blocked["allowed"]!.GetValue<bool>());
        Assert.Equal([first.RunId], blocked["live_runs"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.True((await GuardEventAsync(first.RunId))["allowed"]!.GetValue<bool>());

        await host.DrainAsync();
        Assert.Equal(RunStatus.Blocked, (await host.RunAsync(second.RunId)).Status); // never executed
        Assert.DoesNotContain(await host.TimelineAsync(second.RunId), e => e.Kind == "run.claimed");
    }

    [Fact]
    public async Task A_cooldown_follows_the_end_of_a_run_and_then_lets_the_next_start()
    {
        var done = await RunAsync("web-1");
        Assert.Equal("completed", done.Status);
        var ended = done.CompletedAt!.Value;

        host.Time.Advance(TimeSpan.FromMinutes(4));
        var early = await StartAsync("web-1");
        Assert.Equal("blocked", early.Status);
        Assert.Equal($"cooling down until {ended.AddMinutes(5):yyyy-MM-dd'T'HH:mm:ss'Z'}: the last run for target 'web-1' ended at {ended:yyyy-MM-dd'T'HH:mm:ss'Z'} (cooldown 5m)", early.Error);
        Assert.Equal(ended + TimeSpan.FromMinutes(5), (await GuardAsync("restart-service/web-1")).CooldownUntil);

        host.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("ready", (await StartAsync("web-1")).Status);
    }

    [Fact]
    public async Task A_rate_limit_counts_started_runs_in_a_sliding_window()
    {
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("completed", (await RunAsync("db-1")).Status);
            host.Time.Advance(TimeSpan.FromMinutes(6)); // past the cooldown
        }

        var first = host.Time.GetUtcNow() - TimeSpan.FromMinutes(24);
        var fifth = await StartAsync("db-1");
        Assert.Equal("blocked", fifth.Status);
        Assert.Equal($"4 runs for target 'db-1' started within 1h (at most 4); the next may start from {first.AddHours(1):yyyy-MM-dd'T'HH:mm:ss'Z'}", fifth.Error);
        Assert.Equal(4, (await GuardAsync("restart-service/db-1")).RecentRuns);

        host.Time.Advance(TimeSpan.FromMinutes(60 - 24 + 1)); // the first start leaves the window
        Assert.Equal("ready", (await StartAsync("db-1")).Status);
    }

    [Fact]
    public async Task The_breaker_opens_after_failures_half_opens_for_one_trial_and_a_good_trial_closes_it()
    {
        Assert.Equal("failed", (await RunAsync("web-1", code: 1)).Status);
        host.Time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal("closed", (await GuardAsync("restart-service/web-1")).Breaker);
        var second = await RunAsync("web-1", code: 1);
        Assert.Equal("failed", second.Status);
        host.Time.Advance(TimeSpan.FromMinutes(6));

        var view = await GuardAsync("restart-service/web-1");
        Assert.Equal("open", view.Breaker);
        Assert.Equal(second.CompletedAt!.Value + TimeSpan.FromMinutes(10), view.OpenUntil);
        var blocked = await StartAsync("web-1");
        Assert.Equal("blocked", blocked.Status);
        Assert.Contains("circuit breaker open for target 'web-1' since", blocked.Error, StringComparison.Ordinal);
        Assert.Contains("after 2 failed runs within 30m", blocked.Error, StringComparison.Ordinal);
        Assert.Contains("`runbook guards reset restart-service/web-1` closes it", blocked.Error, StringComparison.Ordinal);
        Assert.Equal("ready", (await StartAsync("web-2")).Status); // another target is not affected

        host.Time.Advance(TimeSpan.FromMinutes(5)); // open_for has passed since the second failure
        Assert.Equal("half-open", (await GuardAsync("restart-service/web-1")).Breaker);
        var trial = await StartAsync("web-1");
        Assert.Equal("ready", trial.Status);
        Assert.Equal("allowed as the circuit breaker's trial run for target 'web-1' (half-open)", (await GuardEventAsync(trial.RunId))["reason"]!.GetValue<string>());
        Assert.Equal(trial.RunId, (await GuardAsync("restart-service/web-1")).TrialRun);

        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal("completed", (await service.GetRunAsync(trial.RunId, CancellationToken.None)).Status);
        Assert.Equal("closed", (await GuardAsync("restart-service/web-1")).Breaker);
        Assert.Equal(0, (await GuardAsync("restart-service/web-1")).RecentFailures);
        Assert.Equal("ready", (await StartAsync("web-1")).Status);
    }

    [Fact]
    public async Task A_breaker_counting_steps_opens_on_failed_steps_the_runbook_handled()
    {
        // Both checks fail and the runbook goes on: every run completes, but the target is clearly not well.
        await File.WriteAllTextAsync(Path.Combine(host.Directory, "probe-and-report.yaml"), """
            name: probe-and-report
            inputs:
              host: { type: string }
              code: { type: number, default: 0 }
            guards:
              target: "${{ inputs.host }}"
              breaker: { failures: 3, window: 30m, open_for: 10m, count: steps }
            steps:
              - id: probe
                action: shell
                with: { command: "exit ${{ inputs.code }}" }
                on_failure: continue
              - id: second-probe
                action: shell
                with: { command: "exit ${{ inputs.code }}" }
                on_failure: continue
              - id: report
                action: log
                with: { message: "probed ${{ inputs.host }}" }
            """);
        async Task<RunView> Run(int code)
        {
            var run = (await service.StartAsync(new StartRequest { Runbook = "probe-and-report", Inputs = new Dictionary<string, string> { ["host"] = "db-1", ["code"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture) } }, alice, CancellationToken.None)).Run;
            await host.DrainAsync();
            host.Time.Advance(TimeSpan.FromMinutes(1));
            return await service.GetRunAsync(run.RunId, CancellationToken.None);
        }

        Assert.Equal("completed", (await Run(code: 0)).Status);
        Assert.Equal("completed", (await Run(code: 1)).Status); // 2 failed steps
        Assert.Equal(2, (await GuardAsync("probe-and-report/db-1")).RecentFailures);
        Assert.Equal("completed", (await Run(code: 1)).Status); // 4: open

        var blocked = (await service.StartAsync(new StartRequest { Runbook = "probe-and-report", Inputs = new Dictionary<string, string> { ["host"] = "db-1" } }, alice, CancellationToken.None)).Run;
        Assert.Equal("blocked", blocked.Status);
        Assert.Contains("after 3 failed steps within 30m", blocked.Error, StringComparison.Ordinal);

        // A trial that completes with a failed step is not a good trial.
        host.Time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal("completed", (await Run(code: 1)).Status);
        Assert.Equal("open", (await GuardAsync("probe-and-report/db-1")).Breaker);
    }

    [Fact]
    public async Task A_failed_trial_opens_the_breaker_again_and_a_reset_closes_it_with_a_record()
    {
        await RunAsync("web-1", code: 1);
        host.Time.Advance(TimeSpan.FromMinutes(6));
        await RunAsync("web-1", code: 1);
        host.Time.Advance(TimeSpan.FromMinutes(11));

        var trial = await RunAsync("web-1", code: 1);
        Assert.Equal("failed", trial.Status);
        host.Time.Advance(TimeSpan.FromMinutes(6));
        var view = await GuardAsync("restart-service/web-1");
        Assert.Equal("open", view.Breaker);
        Assert.Equal(trial.CompletedAt!.Value + TimeSpan.FromMinutes(10), view.OpenUntil);

        var reset = await service.ResetGuardAsync("restart-service/web-1", "fixed the disk, INC-4711", alice, CancellationToken.None);
        Assert.Equal("closed", reset.Breaker);
        Assert.Null(reset.CooldownUntil);
        Assert.Equal(new GuardResetView(host.Time.GetUtcNow(), "user:alice", "fixed the disk, INC-4711"), reset.LastReset);
        Assert.Equal("ready", (await StartAsync("web-1")).Status);

        var missing = await Assert.ThrowsAsync<RunbookServiceException>(() => service.ResetGuardAsync("restart-service/web-9", "x", alice, CancellationToken.None));
        Assert.Equal(ServiceErrorKind.NotFound, missing.Kind);
        Assert.Contains("did you mean 'restart-service/web-1'?", missing.Message, StringComparison.Ordinal);
        var noReason = await Assert.ThrowsAsync<RunbookServiceException>(() => service.ResetGuardAsync("restart-service/web-1", " ", alice, CancellationToken.None));
        Assert.Equal(ServiceErrorKind.Invalid, noReason.Kind);
    }

    [Fact]
    public async Task A_dry_run_is_told_the_decision_but_never_blocked_and_never_counted()
    {
        var live = await StartAsync("web-1");
        var dry = await StartAsync("web-1", dryRun: true);

        Assert.Equal("ready", dry.Status);
        var evt = await GuardEventAsync(dry.RunId);
        Assert.False(evt["allowed"]!.GetValue<bool>());
        Assert.False(evt["enforced"]!.GetValue<bool>());
        var guard = await GuardAsync("restart-service/web-1");
        Assert.Equal([live.RunId], guard.LiveRuns); // the dry-run is not a live run of the target
        Assert.Equal(1, guard.RecentRuns); // and did not count
        await host.DrainAsync();
        Assert.Equal("completed", (await service.GetRunAsync(dry.RunId, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task A_blocked_start_does_not_use_up_its_idempotency_key_and_retry_is_guarded_too()
    {
        var live = await StartAsync("web-1");
        var request = new StartRequest { Runbook = "restart-service", Inputs = new Dictionary<string, string> { ["host"] = "web-1" }, IdempotencyKey = "alert-1" };
        var blocked = await service.StartAsync(request, alice, CancellationToken.None);
        Assert.Equal("blocked", blocked.Run.Status);

        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromMinutes(6));
        var again = await service.StartAsync(request, alice, CancellationToken.None);
        Assert.True(again.Created);
        Assert.Equal("ready", again.Run.Status);
        Assert.NotEqual(blocked.Run.RunId, again.Run.RunId);

        // A retry of the blocked run is a new start: decided again, and blocked while the new run is live.
        var retried = await service.RetryAsync(blocked.Run.RunId, null, alice, CancellationToken.None);
        Assert.Equal("blocked", retried.Run.Status);
        Assert.Contains(again.Run.RunId, retried.Run.Error, StringComparison.Ordinal);
        Assert.Equal("completed", (await service.GetRunAsync(live.RunId, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Runbooks_without_a_target_share_one_guard_and_runbooks_without_guards_have_none()
    {
        await File.WriteAllTextAsync(Path.Combine(host.Directory, "global.yaml"), """
            name: global
            guards: { max_live: 1 }
            steps:
              - id: a
                action: log
                with: { message: hi }
            """);
        await File.WriteAllTextAsync(Path.Combine(host.Directory, "free.yaml"), """
            name: free
            steps:
              - id: a
                action: log
                with: { message: hi }
            """);

        var a = await service.StartAsync(new StartRequest { Runbook = "global" }, alice, CancellationToken.None);
        var b = await service.StartAsync(new StartRequest { Runbook = "global" }, alice, CancellationToken.None);
        await service.StartAsync(new StartRequest { Runbook = "free" }, alice, CancellationToken.None);
        var c = await service.StartAsync(new StartRequest { Runbook = "free" }, alice, CancellationToken.None);

        Assert.Equal("ready", a.Run.Status);
        Assert.Equal("blocked", b.Run.Status);
        Assert.Equal($"1 live run for the runbook (at most 1): {a.Run.RunId}", b.Run.Error);
        Assert.Equal("ready", c.Run.Status);
        Assert.Equal(["global"], (await service.ListGuardsAsync(null, CancellationToken.None)).Select(g => g.Key));
        Assert.Null((await GuardEventAsync(a.Run.RunId))["target"]);
    }
}
