using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

public sealed class RunbookExecutionTests : IAsyncLifetime
{
    private RunbookTestHost host = null!;

    public async Task InitializeAsync() => host = await RunbookTestHost.CreateAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private static string Cleanup => """
        name: disk-cleanup
        inputs:
          dir: { type: string, required: true }
          threshold: { type: number, default: 50 }
        steps:
          - id: measure
            action: shell
            with: { command: [bash, -c, "echo ' 87%'"] }
            outputs:
              percent: "${{ result.stdout | trim | number }}"
          - id: clean
            when: "${{ steps.measure.outputs.percent > inputs.threshold }}"
            action: shell
            with: { command: [touch, "${{ inputs.dir }}/cleaned"] }
          - id: skipped
            when: "${{ inputs.threshold > 100 }}"
            action: shell
            with: { command: [touch, "${{ inputs.dir }}/never"] }
          - id: note
            action: log
            with: { message: "disk was at ${{ steps.measure.outputs.percent }}%" }
        outputs:
          before: "${{ steps.measure.outputs.percent }}"
          cleaned: "${{ steps.clean.status }}"
        """;

    [Fact]
    public async Task A_live_run_executes_actions_evaluates_conditions_and_returns_outputs()
    {
        var run = await host.StartAsync(Cleanup, new JsonObject { ["dir"] = host.Directory });
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("{\"before\":87,\"cleaned\":\"succeeded\"}", done.Output);
        Assert.True(File.Exists(Path.Combine(host.Directory, "cleaned")));
        Assert.False(File.Exists(Path.Combine(host.Directory, "never")));
        var kinds = (await host.TimelineAsync(run)).Select(e => e.Kind).ToList();
        Assert.Contains("step.skipped", kinds);
        Assert.Contains(host.Logs.Lines, l => l.Contains("disk was at 87%", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_dry_run_plans_every_action_and_changes_nothing()
    {
        var yaml = Cleanup.Replace("steps:\n", """
            steps:
              - id: approve
                approval: { approvers: [bob], timeout: 30m }
              - id: nap
                sleep: 10m

            """.Replace("\r", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        var run = await host.StartAsync(yaml, new JsonObject { ["dir"] = host.Directory }, dryRun: true);
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.False(File.Exists(Path.Combine(host.Directory, "cleaned")));
        var timeline = await host.TimelineAsync(run);
        var kinds = timeline.Select(e => e.Kind).ToList();
        Assert.Contains("approval.planned", kinds);
        Assert.Contains("sleep.planned", kinds);
        Assert.DoesNotContain("timer.started", kinds);
        Assert.DoesNotContain("wait.started", kinds);
        Assert.Contains("step.condition_unknown", kinds); // clean depends on the planned measure
        Assert.Contains("step.skipped", kinds); // skipped depends on inputs only, known in a dry-run
        var history = await host.HistoryAsync(run);
        var plan = history.Steps.Single(s => s.Name == "clean").Output!;
        Assert.Contains("would run: touch", plan, StringComparison.Ordinal);
        Assert.Contains("\"before\":\"${{ steps.measure.outputs.percent }}\"", done.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_plans_steps_that_depend_on_the_status_of_a_planned_step_regression()
    {
        // Regression: a planned step's status was the known string "planned", so a later condition
        // `steps.x.status == 'succeeded'` was false and the dry-run silently left out the approval and the action.
        var yaml = """
            name: status-chain
            steps:
              - id: find
                action: shell
                with: { command: [ls] }
              - id: approve
                when: "${{ steps.find.status == 'succeeded' }}"
                approval: { approvers: [bob] }
              - id: act
                when: "${{ steps.approve.status == 'succeeded' }}"
                action: shell
                with: { command: [touch, never] }
            """;
        var run = await host.StartAsync(yaml, dryRun: true);
        await host.DrainAsync();

        var kinds = (await host.TimelineAsync(run)).Select(e => e.Kind).ToList();
        Assert.DoesNotContain("step.skipped", kinds);
        Assert.Contains("approval.planned", kinds);
        Assert.Contains((await host.HistoryAsync(run)).Steps, st => st.Name == "act" && st.Output!.Contains("would run: touch never", StringComparison.Ordinal));
    }

    private const string Gate = """
        name: gated
        steps:
          - id: approve
            approval: { approvers: [bob, "group:sre"], min: 1, timeout: 30m, on_timeout: reject }
          - id: act
            action: log
            with: { message: approved }
        """;

    [Fact]
    public async Task A_decision_sent_ahead_of_the_request_holds_for_the_gates_timeout_else_an_hour_and_is_marked_as_such()
    {
        const string Later = """
            name: later-gate
            steps:
              - id: wait
                sleep: 10m
              - id: approve
                approval: { approvers: [bob] }
              - id: act
                action: log
                with: { message: approved }
            """;
        var service = new RunbookEngine.Runbooks.Service.LocalRunbookService(host.Store, host.Actions, [host.Directory], "test", host.Time);
        var bob = new RunbookEngine.Runbooks.Service.Caller("user:bob", []);
        var soon = await host.StartAsync(Later, actor: "user:alice");
        await host.DrainAsync(); // sleeping
        await service.DecideAsync(soon, true, "approve", "ahead", bob, CancellationToken.None); // before the run asks
        host.Time.Advance(TimeSpan.FromMinutes(10));
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(soon)).Status);
        var granted = Assert.Single(await host.TimelineAsync(soon), e => e.Kind == "approval.granted");
        Assert.Equal("10m", System.Text.Json.Nodes.JsonNode.Parse(granted.Data!)!["decided_ahead"]!.GetValue<string>());

        var stale = await host.StartAsync(Later.Replace("sleep: 10m", "sleep: 2h", StringComparison.Ordinal), actor: "user:alice");
        await host.DrainAsync();
        await service.DecideAsync(stale, true, "approve", "ahead", bob, CancellationToken.None);
        host.Time.Advance(TimeSpan.FromHours(2));
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(stale)).Status);
        var refused = Assert.Single(await host.TimelineAsync(stale), e => e.Kind == "approval.refused");
        Assert.Equal("decided 2h before the run asked; a decision sent ahead of time holds for 1h (the gate's timeout, else 1h): decide again", System.Text.Json.Nodes.JsonNode.Parse(refused.Data!)!["reason"]!.GetValue<string>());

        await service.DecideAsync(stale, true, "approve", "now", bob, CancellationToken.None); // now that it asks
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(stale)).Status);
        Assert.Null(System.Text.Json.Nodes.JsonNode.Parse(Assert.Single(await host.TimelineAsync(stale), e => e.Kind == "approval.granted").Data!)!["decided_ahead"]);

        // A decision not marked ahead (as every decision was before this rule) decides as it did: runs that
        // consumed one replay as they ran.
        var unmarked = await host.StartAsync(Later.Replace("sleep: 10m", "sleep: 2h", StringComparison.Ordinal), actor: "user:alice");
        await host.DrainAsync();
        await host.DecideAsync(unmarked, "approve", "user:bob", "approve");
        host.Time.Advance(TimeSpan.FromHours(2));
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(unmarked)).Status);
    }

    [Fact]
    public async Task Four_eyes_and_approver_lists_refuse_the_wrong_people_and_a_group_member_approves()
    {
        var run = await host.StartAsync(Gate, actor: "user:alice");
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(run)).Status);

        await host.DecideAsync(run, "approve", "user:alice", "approve", "sre"); // started it: four-eyes
        await host.DecideAsync(run, "approve", "user:mallory", "approve"); // not an approver
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(run)).Status);

        await host.DecideAsync(run, "approve", "user:carol", "approve", "sre");
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        var events = await host.TimelineAsync(run);
        var refused = events.Where(e => e.Kind == "approval.refused").Select(e => e.Data!).ToList();
        Assert.Equal(2, refused.Count);
        Assert.Contains("four-eyes: alice started this run", refused[0], StringComparison.Ordinal);
        Assert.Contains("mallory is not an approver", refused[1], StringComparison.Ordinal);
        Assert.Contains("user:carol", Assert.Single(events, e => e.Kind == "approval.granted").Data!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejection_fails_the_run_with_who_rejected()
    {
        var run = await host.StartAsync(Gate);
        await host.DrainAsync();
        await host.DecideAsync(run, "approve", "user:bob", "reject");
        await host.DrainAsync();

        var failed = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("Rejected", failed.ErrorKind);
        Assert.Contains("rejected by user:bob", failed.ErrorMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reject", RunStatus.Failed)]
    [InlineData("approve", RunStatus.Completed)]
    public async Task An_approval_timeout_has_the_declared_outcome(string onTimeout, RunStatus expected)
    {
        var run = await host.StartAsync(Gate.Replace("on_timeout: reject", $"on_timeout: {onTimeout}", StringComparison.Ordinal));
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromMinutes(30));
        await host.DrainAsync();

        Assert.Equal(expected, (await host.RunAsync(run)).Status);
        Assert.Contains((await host.TimelineAsync(run)), e => e.Kind == "approval.timed_out" && e.Data!.Contains(onTimeout, StringComparison.Ordinal));
    }

    [Fact]
    public async Task On_failure_continue_and_goto_route_the_run_and_max_loops_stops_a_loop()
    {
        var yaml = """
            name: routing
            max_loops: 3
            steps:
              - id: optional
                action: shell
                with: { command: ["false"] }
                on_failure: continue
              - id: fix
                action: log
                with: { message: "fixing" }
              - id: verify
                action: shell
                with: { command: ["false"] }
                on_failure: goto:fix
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();

        var failed = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("LoopLimit", failed.ErrorKind);
        Assert.Contains("test.yaml:", failed.ErrorMessage, StringComparison.Ordinal);
        var history = await host.HistoryAsync(run);
        Assert.Equal(["fix", "fix#2", "fix#3"], history.Steps.Where(s => s.Name.StartsWith("fix", StringComparison.Ordinal) && !s.Name.Contains('/', StringComparison.Ordinal)).Select(s => s.Name));
        Assert.Contains(history.Steps, s => s.Name == "optional" && s.Status == Workflows.Storage.StepStatus.Failed);
    }

    [Fact]
    public async Task A_step_retry_policy_retries_with_back_off_until_success()
    {
        var counter = Path.Combine(host.Directory, "count");
        var yaml = $$$"""
            name: flaky
            steps:
              - id: call
                action: shell
                with:
                  command: "n=$(cat {{{counter}}} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{{counter}}}; [ $n -ge 3 ]"
                retry: { max_attempts: 3, initial_interval: 2s, backoff: 2 }
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromSeconds(2));
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromSeconds(4));
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.Equal("3", File.ReadAllText(counter).Trim());
        Assert.Equal(2, (await host.TimelineAsync(run)).Count(e => e.Kind == "step.failed"));
    }

    [Fact]
    public async Task Wait_until_polls_an_http_endpoint_until_the_condition_holds()
    {
        var calls = 0;
        await using var server = new LocalHttpServer((_, _) => Interlocked.Increment(ref calls) < 3 ? (503, "{\"ready\":false}", "application/json") : (200, "{\"ready\":true}", "application/json"));
        var yaml = $$$"""
            name: wait-healthy
            steps:
              - id: healthy
                action: http
                with: { url: "{{{server.Url}}}/health", expect_status: [200, 503] }
                wait_until: { condition: "${{ result.json.ready }}", interval: 10s, timeout: 1m }
                outputs:
                  status: "${{ result.status }}"
            outputs:
              status: "${{ steps.healthy.outputs.status }}"
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromSeconds(10));
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromSeconds(10));
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("{\"status\":200}", done.Output);
        Assert.Equal(3, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal("/health", r.Path));
    }

    [Fact]
    public async Task Wait_until_fails_when_the_condition_does_not_hold_in_time()
    {
        await using var server = new LocalHttpServer((_, _) => (503, "down", "text/plain"));
        var yaml = $$$"""
            name: wait-healthy
            steps:
              - id: healthy
                action: http
                with: { url: "{{{server.Url}}}/health", expect_status: [200, 503] }
                wait_until: { condition: "${{ result.status == 200 }}", interval: 20s, timeout: 30s }
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromSeconds(20));
        await host.DrainAsync();

        var failed = await host.RunAsync(run);
        Assert.Equal("WaitTimedOut", failed.ErrorKind);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_notify_webhook_url_given_as_a_secret_never_reaches_the_database_or_the_logs()
    {
        await using var chat = new LocalHttpServer((request, _) => request.Url!.AbsolutePath.Contains("broken", StringComparison.Ordinal) ? (404, "no_service", "text/plain") : (200, "ok", "text/plain"));
        const string Token = "T0ABC/B0DEF/hook-Secret-99";
        Environment.SetEnvironmentVariable("RB_TEST_SLACK", $"{chat.Url}/services/{Token}");
        Environment.SetEnvironmentVariable("RB_TEST_SLACK_BROKEN", $"{chat.Url}/broken/{Token}");
        var yaml = """
            name: tells-the-channel
            steps:
              - id: tell
                action: notify
                with: { url: "secret://env/RB_TEST_SLACK", text: "disk cleaned", title: "runbook" }
              - id: tell-broken
                action: notify
                with: { url: "secret://env/RB_TEST_SLACK_BROKEN", text: "again" }
                on_failure: continue
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.Equal($"/services/{Token}", chat.Requests.First().Path); // the action did use it
        var failed = (await host.HistoryAsync(run)).Steps.Single(s => s.Name == "tell-broken");
        Assert.Equal("127.0.0.1 answered 404: no_service", failed.ErrorMessage![(failed.ErrorMessage!.IndexOf("127.0.0.1", StringComparison.Ordinal))..]);

        await host.AssertNeverStoredOrLoggedAsync("hook-Secret-99", "the webhook URL");
    }

    [Fact]
    public async Task A_secret_never_reaches_the_database_the_timeline_or_the_logs()
    {
        const string Secret = "s3cr3t-Value-4711";
        Environment.SetEnvironmentVariable("RB_TEST_TOKEN", Secret);
        await using var server = new LocalHttpServer((_, _) => (200, "{\"echo\":\"token " + Secret + "\"}", "application/json"));
        var yaml = $$$"""
            name: uses-secret
            inputs:
              token: { type: string, secret: true, required: true }
            steps:
              - id: call
                action: http
                with:
                  url: "{{{server.Url}}}/api"
                  headers: { Authorization: "Bearer ${{ inputs.token }}" }
                outputs:
                  echoed: "${{ result.json.echo }}"
              - id: print
                action: shell
                with:
                  command: [bash, -c, "echo token=$TOKEN; echo oops $TOKEN >&2; exit 3"]
                  env: { TOKEN: "${{ inputs.token }}" }
                on_failure: continue
              - id: say
                action: log
                with: { message: "using ${{ inputs.token }}" }
            outputs:
              echoed: "${{ steps.call.outputs.echoed }}"
            """;
        var run = await host.StartAsync(yaml, new JsonObject { ["token"] = "secret://env/RB_TEST_TOKEN" });
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Completed, done.Status);
        Assert.Equal("Bearer " + Secret, Assert.Single(server.Requests).Headers["Authorization"]); // the action did receive it
        Assert.Equal("{\"echoed\":\"token ***\"}", done.Output);
        var history = await host.HistoryAsync(run);
        Assert.Contains("oops ***", history.Steps.Single(s => s.Name == "print").ErrorMessage, StringComparison.Ordinal);

        await host.AssertNeverStoredOrLoggedAsync(Secret, "the secret");
        Assert.Contains(host.Logs.Lines, l => l.Contains("using ***", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_step_with_a_queue_runs_its_action_on_a_worker_of_that_queue()
    {
        var yaml = $$$"""
            name: remote
            steps:
              - id: mark
                action: shell
                queue: ops
                with: { command: [touch, "{{{host.Directory}}}/remote"] }
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(run)).Status);
        Assert.False(File.Exists(Path.Combine(host.Directory, "remote")));

        await host.Worker("ops-1", ["ops"]).RunUntilIdleAsync(CancellationToken.None);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.True(File.Exists(Path.Combine(host.Directory, "remote")));
    }

    [Fact]
    public async Task A_run_resumed_after_a_sleep_does_not_repeat_completed_steps()
    {
        var log = Path.Combine(host.Directory, "log");
        var yaml = $$$"""
            name: resumable
            steps:
              - id: before
                action: shell
                with: { command: [bash, -c, "echo before >> {{{log}}}"] }
              - id: nap
                sleep: 5m
              - id: after
                action: shell
                with: { command: [bash, -c, "echo after >> {{{log}}}"] }
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromMinutes(5));
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.Equal(["before", "after"], File.ReadAllLines(log));
    }

    [Fact]
    public void Binding_reports_missing_unknown_and_literal_secret_inputs_at_their_declaration()
    {
        var runbook = host.Parse("""
            name: inputs
            inputs:
              host: { type: string, required: true, pattern: '^[a-z0-9.-]+$' }
              count: { type: number, default: 1 }
              mode: { type: enum, values: [fast, safe], default: safe }
              token: { type: string, secret: true }
            steps:
              - id: a
                action: log
                with: { message: hi }
            """);

        var (_, missing) = InputBinder.BindText(runbook, new Dictionary<string, string> { ["hots"] = "x", ["count"] = "many", ["mode"] = "yolo", ["token"] = "hunter2" });

        Assert.Equal(
            [
                "test.yaml:1:1: runbook 'inputs' has no input 'hots' (did you mean 'host'?); its inputs: host, count, mode, token",
                "test.yaml:3:3: missing required input 'host': pass it with -p host=...",
                "test.yaml:4:3: input 'count': expected a number, got 'many'",
                "test.yaml:5:3: input 'mode': 'yolo' is not one of fast, safe",
                "test.yaml:6:3: input 'token' is secret: pass a reference such as secret://env/NAME or secret://file/PATH; a literal value would be stored with the run",
            ],
            missing.Select(d => d.ToString()).OrderBy(s => s, StringComparer.Ordinal));

        var (bound, ok) = InputBinder.BindText(runbook, new Dictionary<string, string> { ["host"] = "web-1.example", ["count"] = "3" });
        Assert.Empty(ok);
        Assert.Equal("{\"host\":\"web-1.example\",\"count\":3,\"mode\":\"safe\"}", bound.ToJsonString());
        var (_, badPattern) = InputBinder.BindText(runbook, new Dictionary<string, string> { ["host"] = "Web 1" });
        Assert.Contains("does not match the pattern", Assert.Single(badPattern).Message, StringComparison.Ordinal);
    }
}
