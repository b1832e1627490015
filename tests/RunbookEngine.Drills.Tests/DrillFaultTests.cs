namespace RunbookEngine.Drills.Tests;

/// <summary>Engine faults in drills: a worker killed during a step, the store unreachable for a while.</summary>
public sealed class DrillFaultTests : IDisposable
{
    private const string Restart = """
        name: restart
        triggers:
          - source: alertmanager
            match: ["alertname = ApiDown"]
        steps:
          - id: probe
            action: http
            with: { url: "http://api.internal/health", expect_status: [200, 503] }
          - id: restart
            action: http
            with: { method: POST, url: "http://supervisor.internal/restart" }
            retry: { max_attempts: 1 }
          - id: report
            action: log
            with: { message: restarted }
        """;

    private readonly DrillHost host = new();

    public void Dispose() => host.Dispose();

    private static TimeSpan At(DrillResult result, string kind, string? step = null) =>
        result.Timeline.First(e => e.Kind == kind && (step is null || e.Step == step)).At;

    [Fact]
    public async Task A_worker_killed_during_a_step_is_replaced_and_the_run_is_recovered_after_the_lease_with_the_step_run_again()
    {
        host.Runbook("restart.yaml", Restart);
        var result = await host.RunAsync(host.Drill("dies.drill.yaml", """
            drill: dies
            runbook: restart
            run: {}
            actions:
              http: { respond: { status: 202 } }
              log: { respond: {} }
            faults:
              - worker_dies: restart
                restart_after: 10s
            expect:
              outcome: completed
              attempts: { restart: 2, probe: 1 }
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        var fault = Assert.Single(result.Faults);
        Assert.Equal("worker_dies", fault.Kind);
        Assert.Equal(TimeSpan.Zero, fault.At);
        Assert.Equal(TimeSpan.FromSeconds(10), fault.Until);
        Assert.Contains("worker drill dies during step 'restart' (attempt 1); worker drill-2 starts at T+10s", fault.What, StringComparison.Ordinal);

        // The dead worker's lease (30s from its claim) must expire before the new worker may take the run over.
        var recovered = result.Timeline.Single(e => e.Kind == "run.recovered");
        Assert.Equal("worker:drill-2", recovered.Actor);
        Assert.Equal(TimeSpan.FromSeconds(30), recovered.At);
        Assert.Equal("drill", recovered.Data?["previous_owner"]?.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(30), At(result, "step.interrupted", "restart"));
        Assert.DoesNotContain(result.Timeline, e => e.Actor == "worker:drill" && e.Step == "restart" && e.Kind is "step.completed" or "step.failed");

        // At least once, even under max_attempts: 1 — the interrupted attempt does not count against the policy.
        var restarts = result.Calls.Where(c => c.Step == "restart").ToList();
        Assert.Equal([1, 2], restarts.Select(c => c.Attempt));
        Assert.Equal("the worker died during the call", restarts[0].Answer);
        Assert.Contains("responds", restarts[1].Answer, StringComparison.Ordinal);
        Assert.Contains("fault: 0s worker drill dies", DrillReports.Text(result), StringComparison.Ordinal);
        Assert.Contains("worker died", DrillReports.Svg(result, host.Load(Path.Combine(host.Directory, "drills", "dies.drill.yaml")).Drill!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_step_that_kills_its_worker_again_stops_one_attempt_beyond_its_policy()
    {
        host.Runbook("restart.yaml", Restart);
        var result = await host.RunAsync(host.Drill("dies-twice.drill.yaml", """
            drill: dies-twice
            runbook: restart
            run: {}
            actions:
              http: { respond: { status: 202 } }
              log: { respond: {} }
            faults:
              - { worker_dies: restart, attempt: 1, restart_after: 0s }
              - { worker_dies: restart, attempt: 2, restart_after: 0s }
            expect: { outcome: failed, error_kind: Interrupted, attempts: { restart: 2 }, steps_run: [probe] }
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Equal(2, result.Faults.Count);
        Assert.Equal(["worker:drill-2", "worker:drill-3"], result.Timeline.Where(e => e.Kind == "run.recovered").Select(e => e.Actor));
        Assert.Equal(TimeSpan.FromSeconds(60), result.Timeline.Single(e => e.Kind == "run.failed").At);
        Assert.DoesNotContain(result.Calls, c => c.Step == "report");
    }

    [Fact]
    public async Task An_alert_that_fires_while_the_store_is_down_is_delivered_when_it_is_back_and_mttd_shows_it()
    {
        host.Runbook("restart.yaml", Restart);
        var result = await host.RunAsync(host.Drill("store-down.drill.yaml", """
            drill: store-down
            runbook: restart
            alerts:
              - { name: ApiDown, fired: 1m }
            actions:
              http: { respond: { status: 202 } }
              log: { respond: {} }
            faults:
              - { store_unreachable: 5m, at: 0s }
            expect: { outcome: completed, alert: started, mttd: 4m }
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Equal(TimeSpan.FromMinutes(4), result.Mttd);
        Assert.Equal(TimeSpan.FromMinutes(5), At(result, "run.created"));
        Assert.Equal(["store_unreachable", "delivery_refused"], result.Faults.Select(f => f.Kind));
        Assert.Equal(TimeSpan.FromMinutes(1), result.Faults[1].At);
        Assert.Contains("ApiDown fires: refused, the store is unreachable; delivered again at T+5m", result.Faults[1].What, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_outage_as_a_step_finishes_loses_its_result_and_the_step_runs_again_when_the_store_is_back()
    {
        var result = await DrillHost.RunAsync(DrillHost.Load(Path.Combine(DrillHost.Examples, "drills", "disk-full-cleanup-store-down.drill.yaml"), Path.Combine(DrillHost.Examples, "runbooks")));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Equal(["store_unreachable", "delivery_refused", "store_unreachable"], result.Faults.OrderBy(f => f.At).Select(f => f.Kind));
        var refused = result.Faults.Single(f => f.Kind == "delivery_refused");
        Assert.Equal(TimeSpan.FromMinutes(2), refused.At);
        Assert.Contains("user:bob decides approve", refused.What, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromMinutes(3), At(result, "approval.granted", "approve"));

        // The first deletion answered, but its result could not be committed: recovered after the outage (45s).
        var cleans = result.Calls.Where(c => c.Step == "clean").ToList();
        Assert.Equal([TimeSpan.FromMinutes(3), TimeSpan.FromMinutes(3.75)], cleans.Select(c => c.At));
        Assert.Equal(TimeSpan.FromMinutes(3.75), At(result, "run.recovered"));
        Assert.Single(result.Timeline, e => e.Kind == "step.completed" && e.Step == "clean");
    }

    [Fact]
    public async Task A_fault_on_a_step_that_is_never_called_is_reported_as_never_struck()
    {
        host.Runbook("restart.yaml", Restart);
        var result = await host.RunAsync(host.Drill("never.drill.yaml", """
            drill: never
            runbook: restart
            run: {}
            actions:
              http: { respond: { status: 202 } }
              log: { respond: {} }
            faults:
              - { worker_dies: restart, attempt: 2 }
              - { store_unreachable: 1m, during: report, attempt: 3 }
            expect: { outcome: completed, attempts: { restart: 1 } }
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Empty(result.Faults);
        Assert.Contains(result.Notes, n => n.Contains("never.drill.yaml:8:5: step 'restart' was never called at attempt 2, so the fault never struck", StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.Contains("step 'report' was never called at attempt 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_attempt_count_fails_the_drill_listing_each_call()
    {
        host.Runbook("restart.yaml", Restart);
        var result = await host.RunAsync(host.Drill("count.drill.yaml", """
            drill: count
            runbook: restart
            run: {}
            actions:
              http: { respond: { status: 202 } }
              log: { respond: {} }
            faults:
              - worker_dies: restart
            expect: { attempts: { restart: 1 } }
            """));

        var check = result.Checks.Single(c => c.Name == "attempts: restart");
        Assert.False(check.Passed);
        Assert.Equal("1 call(s) of its action", check.Expected);
        Assert.Equal("2 call(s): attempt 1 at 0s (the worker died during the call), attempt 2 at T+30s (responds)", check.Actual);
        Assert.EndsWith("count.drill.yaml:9:23", check.Location, StringComparison.Ordinal);
    }

    [Fact]
    public void Faults_are_checked_field_by_field_and_against_the_runbooks_steps()
    {
        var problems = new DrillParser(DrillHost.Actions).Parse("d.drill.yaml", """
            drill: bad
            runbook: restart
            run: {}
            faults:
              - { worker_dies: restart, store_unreachable: 1m }
              - { store_unreachable: 1m }
              - { store_unreachable: 1m, at: 1m, during: restart }
              - { worker_dies: restart, at: 1m }
              - { store_unreachable: soon, at: 1m, restart_after: 1m }
              - { worker_dies: restart, attempt: 0 }
              - { crash: true }
              - worker_dies
            expect: { attempts: { restart: many } }
            """).Diagnostics.Select(d => d.ToString()).ToList();

        Assert.Contains("d.drill.yaml:5:5: a fault has both 'worker_dies' and 'store_unreachable': write one fault per entry", problems);
        Assert.Contains("d.drill.yaml:6:5: a store outage needs 'at: TIME' (from the drill's start) or 'during: STEP' (when that step's call arrives)", problems);
        Assert.Contains("d.drill.yaml:7:5: a store outage has both 'at' and 'during': give one", problems);
        Assert.Contains("d.drill.yaml:8:33: 'at' is for store_unreachable: a worker dies during the step named by 'worker_dies'", problems);
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:9:26:", StringComparison.Ordinal) && p.Contains("store_unreachable", StringComparison.Ordinal));
        Assert.Contains("d.drill.yaml:9:55: 'restart_after' is for worker_dies: the store comes back by itself when 'store_unreachable' has passed", problems);
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:10:38:", StringComparison.Ordinal) && p.Contains("attempt", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:11:7:", StringComparison.Ordinal) && p.Contains("crash", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:12:5:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:13:32:", StringComparison.Ordinal) && p.Contains("attempts.restart", StringComparison.Ordinal));

        host.Runbook("restart.yaml", Restart);
        var loaded = host.Load(host.Drill("unknown.drill.yaml", """
            drill: unknown
            runbook: restart
            run: {}
            faults:
              - worker_dies: restrat
              - { store_unreachable: 1m, during: reprot }
            expect: { attempts: { prob: 1 } }
            """));
        var found = loaded.Diagnostics.Select(d => d.ToString()).ToList();
        Assert.Contains(found, p => p.EndsWith("unknown.drill.yaml:5:5: worker_dies during step 'restrat': runbook 'restart' has no step 'restrat' (did you mean 'restart'?); its steps: probe, restart, report", StringComparison.Ordinal));
        Assert.Contains(found, p => p.Contains("unknown.drill.yaml:6:5: store_unreachable during step 'reprot'", StringComparison.Ordinal));
        Assert.Contains(found, p => p.Contains("unknown.drill.yaml:7:23: attempts of step 'prob'", StringComparison.Ordinal));
    }
}
