using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills.Tests;

/// <summary>A real run on the kernel (real SQLite, real shell commands) recorded as a drill and replayed.</summary>
public sealed class RecorderTests : IDisposable
{
    private readonly DrillHost host = new();

    public void Dispose() => host.Dispose();

    private const string Runbook = """
        name: recorded
        inputs:
          dir: { type: string, required: true }
          token: { type: string, secret: true, required: true }
        steps:
          - id: flaky
            action: shell
            with: { command: [bash, -c, 'test -f "$1/once" || { touch "$1/once"; echo not yet >&2; exit 3; }; echo "token=$2"', flaky, "${{ inputs.dir }}", "${{ inputs.token }}"] }
            retry: { max_attempts: 3, initial_interval: 1s }
          - id: approve
            approval: { approvers: ["group:sre"], timeout: 1h }
          - id: act
            action: shell
            with: { command: [echo, "acting on ${{ inputs.dir }}"] }
          - id: never
            when: "${{ false }}"
            action: shell
            with: { command: ["false"] }
        """;

    /// <summary>Runs the runbook for real on a scratch store and returns what `runbook status` and `timeline` read.</summary>
    private async Task<(RunDetail Detail, TimelineView Timeline)> RealRunAsync(string file, string secretRef)
    {
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(host.Directory, "real.db") });
        var clock = new ManualTimeProvider();
        var service = new LocalRunbookService(store, DrillHost.Actions, [host.Runbooks], "test", clock);
        var started = await service.StartAsync(new StartRequest { Runbook = file, Inputs = new Dictionary<string, string> { ["dir"] = host.Directory, ["token"] = secretRef } }, new Caller("user:alice", []), CancellationToken.None);
        await using var worker = new WorkflowWorker(store, new RunbookResolver(DrillHost.Actions), new WorkerOptions { WorkerId = "w" }, new ActivityRegistry().AddRunbookActions(DrillHost.Actions, NullLogger.Instance), clock, NullLoggerFactory.Instance);
        for (var i = 0; i < 100 && !(await service.GetRunAsync(started.Run.RunId, CancellationToken.None)).IsTerminal; i++)
        {
            await worker.RunUntilIdleAsync(CancellationToken.None);
            var run = await service.GetRunAsync(started.Run.RunId, CancellationToken.None);
            if (run.Status == "waiting" && (await service.GetTimelineAsync(run.RunId, 0, CancellationToken.None)).Events.Any(e => e.Kind == "approval.requested")
                && !(await service.GetTimelineAsync(run.RunId, 0, CancellationToken.None)).Events.Any(e => e.Kind == "signal.received"))
            {
                await service.DecideAsync(run.RunId, approve: true, "approve", "go ahead", new Caller("user:bob", ["sre"]), CancellationToken.None);
            }
            else if (run.Status == "waiting")
            {
                clock.Advance(TimeSpan.FromSeconds(1)); // the retry back-off
            }
        }

        var detail = await service.GetRunDetailAsync(started.Run.RunId, CancellationToken.None);
        Assert.Equal("completed", detail.Run.Status);
        return (detail, await service.GetTimelineAsync(started.Run.RunId, 0, CancellationToken.None));
    }

    [Fact]
    public async Task A_recorded_run_replays_as_it_happened_keeps_secrets_out_and_catches_a_changed_input()
    {
        var secretName = "DRILL_REC_" + Guid.NewGuid().ToString("N");
        const string secret = "tok-4711-recorded-never";
        Environment.SetEnvironmentVariable(secretName, secret);
        try
        {
            var file = host.Runbook("recorded.yaml", Runbook);
            var (detail, timeline) = await RealRunAsync(file, $"secret://env/{secretName}");

            var (yaml, summary) = DrillRecorder.Record(detail, timeline, "../runbooks/recorded.yaml", "recorded-run");
            var path = host.Drill("recorded.drill.yaml", yaml);

            Assert.Equal("3 call(s), 1 approval decision(s), started by user:alice", summary);
            Assert.DoesNotContain(secret, yaml, StringComparison.Ordinal);
            Assert.Equal(string.Empty, DrillSchemaTests.Errors(yaml));
            Assert.Contains($"secret://env/{secretName}", yaml, StringComparison.Ordinal);
            Assert.Contains("fail: { kind: \"ExitCode\"", yaml, StringComparison.Ordinal);
            Assert.Contains("approve: \"user:bob\", groups: [\"sre\"]", yaml, StringComparison.Ordinal);

            var replay = await host.RunAsync(path);
            Assert.True(replay.Passed, DrillReports.Text(replay) + "\n" + yaml);
            Assert.Equal([1, 2], replay.Calls.Where(c => c.Step == "flaky").Select(c => c.Attempt));
            Assert.Equal(["never"], replay.StepsSkipped);

            // Today's runbook acts on another directory: the replay names the step and the input that changed.
            var edited = host.Runbook("edited.yaml", Runbook.Replace("\"acting on ${{ inputs.dir }}\"", "\"acting on ${{ inputs.dir }}/sub\"", StringComparison.Ordinal));
            var diverged = await DrillHost.RunAsync(DrillHost.Load(path, host.Runbooks, overrideRunbook: edited));
            var calls = Assert.Single(diverged.Checks, c => !c.Passed);
            Assert.Equal("calls", calls.Name);
            Assert.StartsWith("act (shell) was called with different inputs: with.command[1] was \"acting on ", calls.Actual, StringComparison.Ordinal);
            Assert.Contains("/sub\"", calls.Actual, StringComparison.Ordinal);

            // And a runbook that skips a recorded step is caught both ways.
            var skipping = host.Runbook("skipping.yaml", Runbook.Replace("  - id: act\n", "  - id: act\n    when: \"${{ false }}\"\n", StringComparison.Ordinal));
            var skipped = await DrillHost.RunAsync(DrillHost.Load(path, host.Runbooks, overrideRunbook: skipping));
            Assert.Contains(skipped.Checks, c => !c.Passed && c.Name == "steps_run: act" && c.Actual == "skipped (its when: was false)");
            Assert.Contains(skipped.Checks, c => !c.Passed && c.Name == "calls" && c.Actual.StartsWith("act (shell) was recorded but not called now", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable(secretName, null);
        }
    }
}
