using System.Text.Json;
using System.Text.RegularExpressions;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills.Tests;

public sealed partial class DrillReplayTests : IDisposable
{
    private readonly DrillHost host = new();

    public void Dispose() => host.Dispose();

    private static DrillCheck Check(DrillResult result, string name) => result.Checks.Single(c => c.Name == name);

    private static TimeSpan At(DrillResult result, string kind, string? step = null) =>
        result.Timeline.First(e => e.Kind == kind && (step is null || e.Step == step)).At;

    [Fact]
    public async Task Every_example_drill_passes_and_every_example_runbook_has_one()
    {
        var drills = Directory.GetFiles(Path.Combine(DrillHost.Examples, "drills"), "*.drill.yaml").Order(StringComparer.Ordinal).ToList();
        var replayed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in drills)
        {
            var result = await DrillHost.RunAsync(DrillHost.Load(file, Path.Combine(DrillHost.Examples, "runbooks")));
            Assert.True(result.Passed, DrillReports.Text(result));
            Assert.Empty(result.Notes);
            replayed.Add(Path.GetFileName(result.RunbookFile));
        }

        var runbooks = Directory.GetFiles(Path.Combine(DrillHost.Examples, "runbooks")).Select(Path.GetFileName).Where(f => f!.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".csx", StringComparison.Ordinal));
        Assert.DoesNotContain(runbooks, r => !replayed.Contains(r!));
    }

    [Fact]
    public async Task The_same_drill_gives_the_same_timeline_every_time()
    {
        var file = Path.Combine(DrillHost.Examples, "drills", "deploy-rollback.drill.yaml");
        var runs = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var result = await DrillHost.RunAsync(DrillHost.Load(file, Path.Combine(DrillHost.Examples, "runbooks")));

            // Run ids are unique by design; everything else (kinds, times, actors, data) must be identical.
            runs.Add(RunId().Replace(JsonSerializer.Serialize(result.Timeline.Select(e => new { e.At, e.Kind, e.Actor, e.Data }), WorkflowJson.Options), "RUN"));
        }

        Assert.Equal(runs[0], runs[1]);
        Assert.Equal(runs[0], runs[2]);
        Assert.Contains("approval.granted", runs[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_two_hour_incident_replays_on_virtual_time_with_exact_retry_back_off_and_timeouts()
    {
        host.Runbook("slow.yaml", """
            name: slow
            steps:
              - id: flaky
                action: shell
                with: { command: [restart-thing] }
                retry: { max_attempts: 4, initial_interval: 10s, backoff: 2 }
              - id: stuck
                action: shell
                with: { command: [wait-for-thing] }
                timeout: 1m
                on_failure: continue
              - id: long
                action: shell
                with: { command: [drain] }
            """);
        var result = await host.RunAsync(host.Drill("slow.drill.yaml", """
            drill: slow
            runbook: slow
            run: {}
            steps:
              flaky:
                calls:
                  - { fail: Transient, times: 2 }
                  - { respond: { exit_code: 0 } }
              stuck: { respond: { exit_code: 0 }, latency: 10m }
              long: { respond: { exit_code: 0 }, latency: 2h }
            expect: { outcome: completed, steps_run: [flaky, stuck, long] }
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Equal([1, 2, 3], result.Calls.Where(c => c.Step == "flaky").Select(c => c.Attempt));
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)], result.Calls.Where(c => c.Step == "flaky").Select(c => c.At));

        // The 10-minute call is cut at its 1-minute timeout, at that very instant, and the run goes on.
        var failed = result.Timeline.Single(e => e.Kind == "step.failed" && e.Step == "stuck");
        Assert.Equal("Timeout", failed.Data?["error_kind"]?.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(90), failed.At);
        Assert.Equal(TimeSpan.FromSeconds(90) + TimeSpan.FromHours(2), At(result, "run.completed"));
        Assert.Equal(TimeSpan.FromSeconds(90) + TimeSpan.FromHours(2), result.VirtualDuration);
        Assert.True(result.ElapsedMilliseconds < TimeSpan.FromHours(2).TotalMilliseconds);
    }

    [Fact]
    public async Task A_call_that_hangs_with_no_timeout_is_reported_with_the_fix()
    {
        host.Runbook("hangs.yaml", "name: hangs\nsteps:\n  - id: wait\n    action: shell\n    with: { command: [sleep, infinity] }\n");
        var result = await host.RunAsync(host.Drill("hangs.drill.yaml", """
            drill: hangs
            runbook: hangs
            horizon: 6h
            run: {}
            steps:
              wait: { hang: true }
            expect: { outcome: completed }
            """));

        Assert.False(result.Passed);
        Assert.Equal("failed", result.Status);
        Assert.Equal("Hung", result.ErrorKind);
        Assert.Contains(result.Notes, n => n.Contains("step 'wait' hung", StringComparison.Ordinal) && n.Contains("give the step a timeout", StringComparison.Ordinal));
        Assert.Equal(TimeSpan.FromHours(6), At(result, "step.failed", "wait"));
    }

    [Fact]
    public async Task Approvals_are_decided_as_the_drill_says_through_the_real_rules()
    {
        const string runbook = """
            name: gated
            steps:
              - id: approve
                approval: { approvers: ["group:sre"], timeout: 30m, on_timeout: reject, four_eyes: true }
              - id: act
                action: shell
                with: { command: [rm, -rf, /tmp/x] }
            """;
        host.Runbook("gated.yaml", runbook);

        // Alice started it, so four-eyes refuses her; Bob is not in sre; Carol approves at 7m.
        var granted = await host.RunAsync(host.Drill("granted.drill.yaml", """
            drill: granted
            runbook: gated
            run: { actor: user:alice }
            steps:
              act: { respond: { exit_code: 0 } }
            approvals:
              - { step: approve, approve: user:alice, groups: [sre], after: 1m }
              - { step: approve, approve: user:bob, after: 2m }
              - { step: approve, approve: user:carol, groups: [sre], after: 7m }
            expect: { outcome: completed, steps_run: [approve, act] }
            """));
        Assert.True(granted.Passed, DrillReports.Text(granted));
        Assert.Equal(["user:alice", "user:bob"], granted.Timeline.Where(e => e.Kind == "approval.refused").Select(e => e.Data?["by"]?.GetValue<string>()));
        Assert.Equal(TimeSpan.FromMinutes(7), At(granted, "approval.granted"));
        Assert.Equal(2, granted.Notes.Count(n => n.Contains("was refused", StringComparison.Ordinal)));

        var timedOut = await host.RunAsync(host.Drill("timeout.drill.yaml", """
            drill: nobody-answers
            runbook: gated
            run: {}
            approvals:
              - { step: approve, never: true }
            expect: { outcome: failed, steps_skipped: [] }
            """));
        Assert.Equal("failed", timedOut.Status);
        Assert.Equal(TimeSpan.FromMinutes(30), At(timedOut, "approval.timed_out"));
        Assert.DoesNotContain(timedOut.Calls, c => c.Step == "act");

        var rejected = await host.RunAsync(host.Drill("rejected.drill.yaml", """
            drill: rejected
            runbook: gated
            run: {}
            approvals:
              - { step: approve, reject: user:carol, groups: [sre], after: 3m, comment: "not during the sale" }
            expect: { outcome: failed }
            """));
        Assert.True(rejected.Passed, DrillReports.Text(rejected));
        var rejection = rejected.Timeline.Single(e => e.Kind == "approval.rejected");
        Assert.Equal("not during the sale", rejection.Data?["comment"]?.GetValue<string>());
        Assert.Equal(TimeSpan.FromMinutes(3), rejection.At);
    }

    [Fact]
    public async Task An_alert_through_the_real_router_gives_mttd_and_mttr_and_its_resolve_cancels_a_waiting_run()
    {
        host.Runbook("disk.yaml", """
            name: disk
            inputs:
              host: { type: string, required: true }
            triggers:
              - source: alertmanager
                match: ["alertname = DiskFull"]
                inputs: { host: "${{ alert.labels.instance }}" }
                on_resolved: cancel
            steps:
              - id: measure
                action: shell
                with: { command: [df, /] }
              - id: approve
                approval: { approvers: ["group:sre"] }
              - id: clean
                action: shell
                with: { command: [cleanup] }
                verify: { action: shell, with: { command: [df, /] }, condition: "${{ result.exit_code == 0 }}", interval: 1m, timeout: 10m }
            """);
        var recovered = await host.RunAsync(host.Drill("recovered.drill.yaml", """
            drill: recovered
            runbook: disk
            alerts:
              - { name: DiskFull, labels: { instance: web-1 }, fired: 0s, received: 45s, repeat: [5m] }
            actions:
              shell: { respond: { exit_code: 0 } }
            steps:
              clean:
                respond: { exit_code: 0 }
                verify:
                  - { respond: { exit_code: 1 }, times: 2 }
                  - { respond: { exit_code: 0 } }
            approvals:
              - { step: approve, approve: user:bob, groups: [sre], after: 4m }
            expect: { outcome: completed, alert: started, mttd: 1m, mttr: "<= 8m" }
            """));
        Assert.True(recovered.Passed, DrillReports.Text(recovered));
        Assert.Equal(TimeSpan.FromSeconds(45), recovered.Mttd);
        Assert.Equal("verified", recovered.RecoveredBy);
        Assert.Equal(TimeSpan.FromSeconds(45) + TimeSpan.FromMinutes(4) + TimeSpan.FromMinutes(2), recovered.Mttr);
        Assert.Contains(recovered.Alerts, a => a.Contains("DiskFull repeated: attached", StringComparison.Ordinal));

        var cancelled = await host.RunAsync(host.Drill("resolved.drill.yaml", """
            drill: resolved
            runbook: disk
            alerts:
              - { name: DiskFull, labels: { instance: web-1 }, received: 30s, resolved: 12m }
            actions:
              shell: { respond: { exit_code: 0 } }
            expect: { outcome: cancelled, mttr: 15m }
            """));
        Assert.True(cancelled.Passed, DrillReports.Text(cancelled));
        Assert.Equal("resolved", cancelled.RecoveredBy);
        Assert.Equal(TimeSpan.FromMinutes(12), At(cancelled, "run.cancelled"));
    }

    [Fact]
    public async Task An_edited_runbook_that_no_longer_runs_a_step_fails_the_drill_naming_the_step()
    {
        var runbooks = Path.Combine(DrillHost.Examples, "runbooks");
        var file = Path.Combine(DrillHost.Examples, "drills", "disk-full-cleanup.drill.yaml");
        var edited = File.ReadAllText(Path.Combine(runbooks, "disk-full-cleanup.yaml"))
            .Replace("when: \"${{ steps.approve.status == 'succeeded' }}\"", "when: \"${{ steps.approve.status == 'succeeded' && inputs.threshold > 100 }}\"", StringComparison.Ordinal);
        var copy = host.Runbook("disk-full-cleanup.yaml", edited);

        var result = await DrillHost.RunAsync(DrillHost.Load(file, runbooks, overrideRunbook: copy));

        Assert.False(result.Passed);
        var failed = Assert.Single(result.Checks, c => !c.Passed);
        Assert.Equal("steps_run: clean", failed.Name);
        Assert.Equal("skipped (its when: was false)", failed.Actual);
        Assert.EndsWith("disk-full-cleanup.drill.yaml:30:45", failed.Location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_the_drill_does_not_answer_fails_it_with_what_to_add()
    {
        host.Runbook("two.yaml", "name: two\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n  - id: b\n    action: shell\n    with: { command: [true] }\n");
        var result = await host.RunAsync(host.Drill("partial.drill.yaml", "drill: partial\nrunbook: two\nrun: {}\nsteps:\n  a: { respond: {} }\nexpect: { steps_run: [a] }\n"));

        Assert.False(result.Passed);
        Assert.False(Check(result, "every call answered").Passed);
        Assert.Contains(result.Notes, n => n.Contains("step 'b' called shell", StringComparison.Ordinal) && n.Contains("add steps.b or actions.shell", StringComparison.Ordinal));
        Assert.Equal("DrillUnanswered", result.ErrorKind);
    }

    [Fact]
    public async Task The_svg_chart_shows_the_alert_detection_each_attempt_the_approval_wait_and_recovery()
    {
        var file = Path.Combine(DrillHost.Examples, "drills", "kubernetes-rollout-restart.drill.yaml");
        var loaded = DrillHost.Load(file, Path.Combine(DrillHost.Examples, "runbooks"));
        var result = await DrillHost.RunAsync(loaded);

        var svg = System.Xml.Linq.XDocument.Parse(DrillReports.Svg(result, loaded.Drill!));

        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var bars = svg.Descendants(ns + "rect").Select(r => r.Element(ns + "title")?.Value).OfType<string>().ToList();
        Assert.Contains("KubeDeploymentReplicasMismatch firing from 0s to T+8m", bars);
        Assert.Contains(bars, b => b.StartsWith("restart attempt 1: HttpStatus", StringComparison.Ordinal));
        Assert.Contains(bars, b => b.StartsWith("restart attempt 2: done", StringComparison.Ordinal));
        Assert.Contains(bars, b => b.StartsWith("rolled-out attempt 1: done T+1m35s to T+5m35s", StringComparison.Ordinal));
        var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("detected (MTTD 1m30s)", texts);
        Assert.Contains("recovered (MTTR 5m35s, completed)", texts);
        var red = svg.Descendants(ns + "rect").Count(r => (string?)r.Attribute("fill") == "#d64545");
        Assert.Equal(1, red);

        var gated = Path.Combine(DrillHost.Examples, "drills", "deploy-rollback.drill.yaml");
        var approval = await DrillHost.RunAsync(DrillHost.Load(gated, Path.Combine(DrillHost.Examples, "runbooks")));
        var chart = System.Xml.Linq.XDocument.Parse(DrillReports.Svg(approval, DrillHost.Load(gated, Path.Combine(DrillHost.Examples, "runbooks")).Drill!));
        Assert.Contains(chart.Descendants(ns + "rect"), r => (string?)r.Attribute("fill") == "#e8a33d" && r.Element(ns + "title")!.Value == "approve: waited 4m for approval, granted by user:rm-carol");
    }

    [Fact]
    public async Task A_failing_restart_opens_the_breaker_and_the_next_alert_is_blocked()
    {
        host.Runbook("restart.yaml", """
            name: restart
            inputs:
              host: { type: string, required: true }
            triggers:
              - source: alertmanager
                match: ["alertname = ServiceDown"]
                inputs: { host: "${{ alert.labels.instance }}" }
            guards:
              target: "${{ inputs.host }}"
              breaker: { failures: 2, window: 30m, open_for: 10m }
            steps:
              - id: restart
                action: shell
                with: { command: [systemctl, restart, app] }
            """);

        // Three firing episodes of the same alert on web-1 (each resolves before the next fires).
        var result = await host.RunAsync(host.Drill("breaker.drill.yaml", """
            drill: flapping
            runbook: restart
            alerts:
              - { name: ServiceDown, labels: { instance: web-1 }, fired: 0s, resolved: 2m }
              - { name: ServiceDown, labels: { instance: web-1, attempt: "2" }, fired: 5m, resolved: 7m }
              - { name: ServiceDown, labels: { instance: web-1, attempt: "3" }, fired: 10m }
            steps:
              restart: { fail: { kind: ExitCode, message: "exit 1: unit failed" } }
            expect:
              outcome: failed
              alert_outcomes: [started, resolved, started, resolved, blocked]
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Equal(2, result.Calls.Count);
        Assert.Contains(result.Alerts, a => a.Contains("ServiceDown fired: blocked (restart)", StringComparison.Ordinal) && a.Contains("breaker", StringComparison.OrdinalIgnoreCase));
    }

    [GeneratedRegex("run_[0-9a-f]{32}")]
    private static partial Regex RunId();
}
