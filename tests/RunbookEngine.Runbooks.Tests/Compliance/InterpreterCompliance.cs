using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Runbooks.Tests.Compliance;

/// <summary>
/// What every engine must do alike with the same runbooks, through the same service the CLI and the server use:
/// the example runbooks (YAML and C# script), approvals and four-eyes, rejections, timeouts, retries, on_failure,
/// verify and compensate, guards, dry-runs, pinned definitions and retry from a step. Each engine that can run
/// here derives a class from it (as every store provider runs the store compliance suite).
/// </summary>
public abstract class InterpreterCompliance : IAsyncLifetime
{
    private static readonly Caller Carol = new("user:carol", ["sre-oncall"]);

    private IRunbookEngineHarness engine = null!;

    private LocalRunbookService Service => engine.Service;

    public async Task InitializeAsync() => engine = await CreateHarnessAsync();

    public async Task DisposeAsync() => await engine.DisposeAsync();

    [Theory]
    [InlineData("disk-full-cleanup.yaml")]
    [InlineData("disk-full-cleanup-script.csx")]
    public async Task The_disk_cleanup_example_asks_the_on_call_then_deletes_only_old_logs(string file)
    {
        var name = Example(file);
        var logs = Directory.CreateDirectory(Path.Combine(engine.RunbookDirectory, "logs")).FullName;
        var old = Path.Combine(logs, "old.log");
        var fresh = Path.Combine(logs, "fresh.log");
        await File.WriteAllTextAsync(old, "x");
        await File.WriteAllTextAsync(fresh, "x");
        File.SetLastWriteTimeUtc(old, DateTime.UnixEpoch.AddYears(50));

        var run = await StartAsync(name, new() { ["path"] = logs, ["threshold"] = "-1", ["max_age_days"] = "1" });
        await engine.DriveAsync();
        Assert.Equal("waiting", (await Service.GetRunAsync(run, default)).Status);
        Assert.True(File.Exists(old), "nothing is deleted before the approval");

        var decision = await Service.DecideAsync(run, approve: true, step: null, "go", new Caller("user:dave", ["sre-oncall"]), default);
        Assert.True(decision.Accepted, decision.Reason);
        await engine.DriveAsync();

        var done = await Service.GetRunAsync(run, default);
        Assert.Equal("completed", done.Status);
        Assert.Equal(1, done.Output?["deleted"]?.GetValue<int>());
        Assert.False(File.Exists(old));
        Assert.True(File.Exists(fresh));
        var timeline = await Service.GetTimelineAsync(run, 0, default);
        Assert.True(timeline.ChainIntact, timeline.ChainProblem);
        Assert.Contains(timeline.Events, e => e.Kind == "approval.granted" && e.Data?["by"]?.GetValue<string>() == "user:dave");
    }

    [Fact]
    public async Task A_dry_run_of_the_example_plans_every_step_and_deletes_nothing()
    {
        var name = Example("disk-full-cleanup.yaml");
        var old = Path.Combine(engine.RunbookDirectory, "old.log");
        await File.WriteAllTextAsync(old, "x");
        File.SetLastWriteTimeUtc(old, DateTime.UnixEpoch.AddYears(50));

        var run = await StartAsync(name, new() { ["path"] = engine.RunbookDirectory, ["threshold"] = "-1", ["max_age_days"] = "1" }, dryRun: true);
        await engine.DriveAsync();

        Assert.Equal("completed", (await Service.GetRunAsync(run, default)).Status);
        Assert.True(File.Exists(old));
        var kinds = await KindsAsync(run);
        Assert.Contains("approval.planned", kinds);
        Assert.DoesNotContain("approval.requested", kinds);
    }

    [Fact]
    public async Task Four_eyes_refuses_the_starter_and_a_stranger_and_the_second_engineer_approves()
    {
        Write("gate", """
            name: gate
            steps:
              - id: approve
                approval: { approvers: ["group:sre"], four_eyes: true, timeout: 1h }
              - id: after
                action: log
                with: { message: "approved" }
            """);
        var run = await StartAsync("gate", [], caller: new Caller("user:alice", ["sre"]));
        await engine.DriveAsync();

        var self = await Service.DecideAsync(run, true, null, null, new Caller("user:alice", ["sre"]), default);
        var stranger = await Service.DecideAsync(run, true, null, null, new Caller("user:mallory", ["dev"]), default);
        await engine.DriveAsync();
        Assert.False(self.Accepted);
        Assert.False(stranger.Accepted);
        Assert.Equal("waiting", (await Service.GetRunAsync(run, default)).Status);

        Assert.True((await Service.DecideAsync(run, true, null, "lgtm", new Caller("user:bob", ["sre"]), default)).Accepted);
        await engine.DriveAsync();

        Assert.Equal("completed", (await Service.GetRunAsync(run, default)).Status);
        var kinds = await KindsAsync(run);
        Assert.Equal(2, kinds.Count(k => k == "approval.refused"));
        Assert.Single(kinds, k => k == "approval.granted");
    }

    [Fact]
    public async Task A_rejection_fails_the_run_with_who_rejected_and_runs_nothing_after_it()
    {
        Write("gate", """
            name: gate
            steps:
              - id: approve
                approval: { approvers: [bob] }
              - id: after
                action: shell
                with: { command: [touch, "${{ inputs.dir }}/after"] }
            inputs:
              dir: { type: string, required: true }
            """);
        var run = await StartAsync("gate", new() { ["dir"] = engine.RunbookDirectory });
        await engine.DriveAsync();
        await Service.DecideAsync(run, approve: false, null, "not now", new Caller("bob", []), default);
        await engine.DriveAsync();

        var done = await Service.GetRunAsync(run, default);
        Assert.Equal("failed", done.Status);
        Assert.Equal("Rejected", done.ErrorKind);
        Assert.Contains("bob", done.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(engine.RunbookDirectory, "after")));
    }

    [Theory]
    [InlineData("reject", "failed")]
    [InlineData("approve", "completed")]
    public async Task An_approval_that_nobody_answers_times_out_with_the_declared_outcome(string onTimeout, string status)
    {
        Write("gate", $$"""
            name: gate
            steps:
              - id: approve
                approval: { approvers: [bob], timeout: 30m, on_timeout: {{onTimeout}} }
            """);
        var run = await StartAsync("gate", []);
        await engine.DriveAsync();
        await engine.AdvanceAsync(TimeSpan.FromMinutes(29));
        Assert.Equal("waiting", (await Service.GetRunAsync(run, default)).Status);

        await engine.AdvanceAsync(TimeSpan.FromMinutes(2));
        var done = await Service.GetRunAsync(run, default);
        Assert.Equal(status, done.Status);
        Assert.Contains("approval.timed_out", await KindsAsync(run));
    }

    [Fact]
    public async Task A_failing_step_is_retried_with_back_off_until_it_succeeds()
    {
        Write("flaky", """
            name: flaky
            inputs:
              counter: { type: string, required: true }
            steps:
              - id: flaky
                action: shell
                with: { command: [bash, -c, 'n=$(( $(cat "$1" 2>/dev/null || echo 0) + 1 )); echo $n > "$1"; [ $n -ge 3 ]', flaky, "${{ inputs.counter }}"] }
                retry: { max_attempts: 3, initial_interval: 10s, backoff: 2 }
            """);
        var counter = Path.Combine(engine.RunbookDirectory, "count");
        var run = await StartAsync("flaky", new() { ["counter"] = counter });
        await engine.DriveAsync();
        Assert.Equal("waiting", (await Service.GetRunAsync(run, default)).Status);
        await engine.AdvanceAsync(TimeSpan.FromSeconds(10));
        await engine.AdvanceAsync(TimeSpan.FromSeconds(20));

        Assert.Equal("completed", (await Service.GetRunAsync(run, default)).Status);
        Assert.Equal("3", (await File.ReadAllTextAsync(counter)).Trim());
        Assert.Equal(2, (await KindsAsync(run)).Count(k => k == "step.failed"));
    }

    [Fact]
    public async Task On_failure_continue_and_goto_route_the_run_past_a_failed_step()
    {
        Write("routes", """
            name: routes
            steps:
              - id: soft
                action: shell
                with: { command: ["false"] }
                on_failure: continue
              - id: hard
                action: shell
                with: { command: ["false"] }
                on_failure: goto:recover
              - id: skipped-by-goto
                action: shell
                with: { command: ["false"] }
              - id: recover
                action: log
                with: { message: "recovered" }
            outputs:
              soft: "${{ steps.soft.status }}"
              recover: "${{ steps.recover.status }}"
            """);
        var run = await StartAsync("routes", []);
        await engine.DriveAsync();

        var done = await Service.GetRunAsync(run, default);
        Assert.Equal("completed", done.Status);
        Assert.Equal("failed", done.Output?["soft"]?.GetValue<string>());
        Assert.Equal("succeeded", done.Output?["recover"]?.GetValue<string>());
        Assert.Equal(2, (await KindsAsync(run)).Count(k => k == "step.failure_handled"));
    }

    [Fact]
    public async Task A_verify_that_never_holds_fails_the_step_and_compensates_what_succeeded()
    {
        Write("saga", """
            name: saga
            inputs:
              dir: { type: string, required: true }
            steps:
              - id: create
                action: shell
                with: { command: [touch, "${{ inputs.dir }}/made"] }
                compensate:
                  action: shell
                  with: { command: [rm, "${{ inputs.dir }}/made"] }
              - id: change
                action: log
                with: { message: "changed" }
                verify:
                  action: shell
                  with: { command: [echo, "no"] }
                  condition: "${{ (result.stdout | trim) == 'yes' }}"
                  interval: 10s
                  timeout: 30s
            """);
        var made = Path.Combine(engine.RunbookDirectory, "made");
        var run = await StartAsync("saga", new() { ["dir"] = engine.RunbookDirectory });
        await engine.DriveAsync();
        for (var i = 0; i < 5 && !(await Service.GetRunAsync(run, default)).IsTerminal; i++)
        {
            await engine.AdvanceAsync(TimeSpan.FromSeconds(10));
        }

        var done = await Service.GetRunAsync(run, default);
        Assert.Equal("failed", done.Status);
        Assert.Equal("VerifyFailed", done.ErrorKind);
        Assert.False(File.Exists(made), "the compensation removed what the first step made");
        var kinds = await KindsAsync(run);
        Assert.Contains("verify.failed", kinds);
        Assert.Contains("compensation.succeeded", kinds);
    }

    [Fact]
    public async Task A_guard_blocks_a_second_live_run_of_the_same_target_only()
    {
        Write("guarded", """
            name: guarded
            inputs:
              host: { type: string, required: true }
            guards:
              target: "${{ inputs.host }}"
              max_live: 1
            steps:
              - id: approve
                approval: { approvers: [bob] }
            """);
        var first = await StartAsync("guarded", new() { ["host"] = "web-1" });
        await engine.DriveAsync();
        var second = await StartAsync("guarded", new() { ["host"] = "web-1" });
        var other = await StartAsync("guarded", new() { ["host"] = "web-2" });
        await engine.DriveAsync();

        Assert.Equal("waiting", (await Service.GetRunAsync(first, default)).Status);
        Assert.Equal("blocked", (await Service.GetRunAsync(second, default)).Status);
        Assert.Equal("waiting", (await Service.GetRunAsync(other, default)).Status);
        Assert.Contains("guard.blocked", await KindsAsync(second));
    }

    [Fact]
    public async Task A_run_in_flight_keeps_the_definition_it_started_with_when_the_runbook_is_edited()
    {
        const string Yaml = """
            name: pinned
            inputs:
              dir: { type: string, required: true }
            steps:
              - id: approve
                approval: { approvers: [bob] }
              - id: mark
                action: shell
                with: { command: [touch, "${{ inputs.dir }}/FILE"] }
            """;
        Write("pinned", Yaml.Replace("FILE", "old", StringComparison.Ordinal));
        var run = await StartAsync("pinned", new() { ["dir"] = engine.RunbookDirectory });
        await engine.DriveAsync();
        Write("pinned", Yaml.Replace("FILE", "new", StringComparison.Ordinal));

        await Service.DecideAsync(run, true, null, null, new Caller("bob", []), default);
        await engine.DriveAsync();

        Assert.Equal("completed", (await Service.GetRunAsync(run, default)).Status);
        Assert.True(File.Exists(Path.Combine(engine.RunbookDirectory, "old")));
        Assert.False(File.Exists(Path.Combine(engine.RunbookDirectory, "new")));
    }

    [Fact]
    public async Task Retry_from_a_step_reuses_what_succeeded_and_runs_the_rest_again()
    {
        Write("twice", """
            name: twice
            inputs:
              dir: { type: string, required: true }
            steps:
              - id: first
                action: shell
                with: { command: [bash, -c, 'echo x >> "$1/first"', first, "${{ inputs.dir }}"] }
              - id: second
                action: shell
                with: { command: [test, -f, "${{ inputs.dir }}/fixed"] }
            """);
        var run = await StartAsync("twice", new() { ["dir"] = engine.RunbookDirectory });
        await engine.DriveAsync();
        Assert.Equal("failed", (await Service.GetRunAsync(run, default)).Status);

        await File.WriteAllTextAsync(Path.Combine(engine.RunbookDirectory, "fixed"), string.Empty);
        var retried = await Service.RetryAsync(run, "second", Carol, default);
        await engine.DriveAsync();

        Assert.Equal("completed", (await Service.GetRunAsync(retried.Run.RunId, default)).Status);
        Assert.Single(await File.ReadAllLinesAsync(Path.Combine(engine.RunbookDirectory, "first")));
        Assert.Contains("step.reused", await KindsAsync(retried.Run.RunId));
    }

    [Fact]
    public async Task A_cancelled_run_waiting_for_an_approval_ends_cancelled()
    {
        Write("gate", """
            name: gate
            steps:
              - id: approve
                approval: { approvers: [bob] }
            """);
        var run = await StartAsync("gate", []);
        await engine.DriveAsync();
        await Service.CancelAsync(run, "drill over", Carol, default);
        await engine.DriveAsync();

        var done = await Service.GetRunAsync(run, default);
        Assert.Equal("cancelled", done.Status);
        Assert.Contains("run.cancelled", await KindsAsync(run));
    }

    protected abstract Task<IRunbookEngineHarness> CreateHarnessAsync();

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RunbookEngine.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (RunbookEngine.sln) is not above " + AppContext.BaseDirectory);
    }

    /// <summary>Copies an example runbook of the repository into the engine's runbook directory; returns its name.</summary>
    private string Example(string file)
    {
        var source = Path.Combine(RepositoryRoot(), "runbooks", file);
        File.Copy(source, Path.Combine(engine.RunbookDirectory, file), overwrite: true);
        return Path.GetFileNameWithoutExtension(file);
    }

    private void Write(string name, string yaml) => File.WriteAllText(Path.Combine(engine.RunbookDirectory, name + ".yaml"), yaml);

    private async Task<string> StartAsync(string runbook, Dictionary<string, string> inputs, bool dryRun = false, Caller? caller = null)
    {
        var started = await Service.StartAsync(new StartRequest { Runbook = runbook, Inputs = inputs, DryRun = dryRun }, caller ?? Carol, default);
        return started.Run.RunId;
    }

    private async Task<List<string>> KindsAsync(string runId) => [.. (await Service.GetTimelineAsync(runId, 0, default)).Events.Select(e => e.Kind)];
}
