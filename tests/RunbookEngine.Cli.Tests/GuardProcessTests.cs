using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Cli.Tests;

/// <summary>
/// A circuit breaker opened by runs in one process is seen by every other process sharing the store: on the
/// embedded SQLite file and on PostgreSQL. Each command is a real `runbook` process.
/// </summary>
public sealed class GuardProcessTests : IDisposable
{
    private const string Flaky = """
        name: flaky-restart
        inputs:
          host: { type: string }
        guards:
          target: "${{ inputs.host }}"
          breaker: { failures: 2, window: 1h, open_for: 1h }
        steps:
          - id: restart
            action: shell
            with: { command: "echo restarting ${{ inputs.host }}; exit 1" }
            retry: { max_attempts: 1 }
        """;

    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public Task A_breaker_opened_by_one_process_blocks_runs_in_another_on_sqlite() => BreakerAcrossProcessesAsync([], []);

    [Fact]
    public async Task A_breaker_opened_by_one_process_blocks_runs_in_another_on_postgres()
    {
        var cluster = await PostgresCluster.SharedAsync();
        await BreakerAcrossProcessesAsync(new() { ["RUNBOOK_PG_SCHEMA"] = "guards_" + Guid.NewGuid().ToString("N")[..12] }, ["--store", cluster.ConnectionString]);
    }

    private async Task BreakerAcrossProcessesAsync(Dictionary<string, string> env, string[] store)
    {
        cli.Write("flaky-restart.yaml", Flaky);
        string[] Args(params string[] a) => [.. a, .. store];

        // Process 1 and process 2 each fail one run for db-1: together they open the breaker.
        var (c1, o1, _) = await cli.RunProcessAsync("alice", "sre", env, Args("run", "flaky-restart", "-p", "host=db-1"));
        var (c2, o2, _) = await cli.RunProcessAsync("bob", "sre", env, Args("run", "flaky-restart", "-p", "host=db-1"));
        Assert.True(c1 == 1, o1);
        Assert.True(c2 == 1, o2);
        Assert.Contains("guard flaky-restart/db-1: allowed", o2, StringComparison.Ordinal);

        // Process 3 is refused, with the reason, exit code 3, and the refusal is stored.
        var (c3, o3, e3) = await cli.RunProcessAsync("carol", "sre", env, Args("run", "flaky-restart", "-p", "host=db-1", "-o", "json"));
        Assert.True(c3 == 3, o3 + e3);
        var blocked = JsonNode.Parse(o3)!;
        Assert.Equal("blocked", blocked["status"]!.GetValue<string>());
        Assert.Contains("circuit breaker open for target 'db-1'", blocked["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(["run.created", "guard.blocked"], blocked["timeline"]!.AsArray().Select(e => e!["kind"]!.GetValue<string>()));

        // Process 4 sees the open breaker; another target is unaffected.
        var (c4, o4, _) = await cli.RunProcessAsync("dave", "sre", env, Args("guards", "-o", "json"));
        Assert.Equal(0, c4);
        var guard = Assert.Single(JsonNode.Parse(o4)!.AsArray())!;
        Assert.Equal("flaky-restart/db-1", guard["key"]!.GetValue<string>());
        Assert.Equal("open", guard["breaker"]!.GetValue<string>());
        var (tableCode, table, _) = await cli.RunProcessAsync("dave", "sre", env, Args("guards"));
        Assert.Equal(0, tableCode);
        Assert.Contains("flaky-restart/db-1", table, StringComparison.Ordinal);
        Assert.Contains("open until ", table, StringComparison.Ordinal);

        // A reset without a reason is refused; with one it is recorded and the next run starts (and fails again).
        var (noReason, _, noReasonErr) = await cli.RunProcessAsync("erin", "sre", env, Args("guards", "reset", "flaky-restart/db-1"));
        Assert.Equal(2, noReason);
        Assert.Contains("--reason", noReasonErr, StringComparison.Ordinal);
        var (c5, o5, e5) = await cli.RunProcessAsync("erin", "sre", env, Args("guards", "reset", "flaky-restart/db-1", "--reason", "disk replaced"));
        Assert.True(c5 == 0, o5 + e5);
        Assert.Contains("guard flaky-restart/db-1 reset by user:erin: breaker closed", o5, StringComparison.Ordinal);
        var (c6, o6, _) = await cli.RunProcessAsync("alice", "sre", env, Args("run", "flaky-restart", "-p", "host=db-1"));
        Assert.True(c6 == 1, o6);
        Assert.Contains("restart attempt 1 failed", o6, StringComparison.Ordinal);
        var (_, after, _) = await cli.RunProcessAsync("dave", "sre", env, Args("guards", "-o", "json"));
        var reset = JsonNode.Parse(after)!.AsArray()[0]!;
        Assert.Equal("closed", reset["breaker"]!.GetValue<string>());
        Assert.Equal(1, reset["recent_failures"]!.GetValue<int>());
        Assert.Equal("user:erin", reset["last_reset"]!["by"]!.GetValue<string>());
        Assert.Equal("disk replaced", reset["last_reset"]!["reason"]!.GetValue<string>());

        // The runs on one target, and only those: `runbook runs --target KEY` (the key `runbook guards` lists).
        await cli.RunProcessAsync("alice", "sre", env, Args("run", "flaky-restart", "-p", "host=db-2"));
        var (c7, everything, _) = await cli.RunProcessAsync("dave", "sre", env, Args("runs", "-o", "json"));
        var (c8, targeted, e8) = await cli.RunProcessAsync("dave", "sre", env, Args("runs", "--target", "flaky-restart/db-1", "-o", "json"));
        Assert.True(c7 == 0 && c8 == 0, e8);
        var expected = JsonNode.Parse(everything)!.AsArray().Where(r => (string)r!["inputs"]!["host"]! == "db-1").Select(r => (string)r!["run_id"]!).ToList();
        Assert.True(expected.Count >= 4, everything);
        Assert.Equal(expected, JsonNode.Parse(targeted)!.AsArray().Select(r => (string)r!["run_id"]!));
    }
}
