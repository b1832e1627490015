using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Cli.Tests;

/// <summary>The same commands on a PostgreSQL store: selected by --store, with clear errors when it is wrong.</summary>
public sealed class PostgresCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Run_runs_status_and_timeline_work_the_same_on_postgres_and_never_print_the_password()
    {
        var cluster = await PostgresCluster.SharedAsync();
        var schema = "cli_" + Guid.NewGuid().ToString("N")[..12];
        var store = cluster.ConnectionString + ";Password=not-shown-anywhere";
        var env = new Dictionary<string, string> { ["RUNBOOK_PG_SCHEMA"] = schema };
        cli.Write("hello.yaml", "name: hello\nsteps:\n  - id: say\n    action: log\n    with: { message: hi }\n");

        var (code, output, err) = await cli.InvokeAsync("alice", env, CancellationToken.None, "run", "hello", "--store", store, "-o", "json");
        Assert.True(code == 0, err);
        var runId = JsonNode.Parse(output)!["run_id"]!.GetValue<string>();
        Assert.Equal("completed", JsonNode.Parse(output)!["status"]!.GetValue<string>());

        var (listCode, list, _) = await cli.InvokeAsync("bob", env, CancellationToken.None, "runs", "--store", store, "-o", "json");
        Assert.Equal(0, listCode);
        Assert.Equal(runId, Assert.Single(JsonNode.Parse(list)!.AsArray())!["run_id"]!.GetValue<string>());
        var (timelineCode, timeline, _) = await cli.InvokeAsync("bob", env, CancellationToken.None, "timeline", runId, "--store", store);
        Assert.Equal(0, timelineCode);
        Assert.Contains("hash chain intact", timeline, StringComparison.Ordinal);

        var (missingCode, _, missingErr) = await cli.InvokeAsync("bob", env, CancellationToken.None, "status", "run_nope", "--store", store);
        Assert.Equal(2, missingCode);
        Assert.Contains($"no run 'run_nope' in postgres 127.0.0.1:{cluster.Port}/postgres (schema {schema})", missingErr, StringComparison.Ordinal);
        Assert.DoesNotContain("not-shown-anywhere", output + list + timeline + missingErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_postgres_store_is_a_clear_error_with_the_right_exit_code()
    {
        var (badCode, _, badErr) = await cli.InvokeAsync("alice", "runs", "--store", "Host=127.0.0.1;Bogus=1;Password=hunter2");
        Assert.Equal(2, badCode);
        Assert.StartsWith("runbook: --store: The PostgreSQL connection string is not valid", badErr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", badErr, StringComparison.Ordinal);

        var cluster = await PostgresCluster.SharedAsync();
        var (missingCode, _, missingErr) = await cli.InvokeAsync("alice", "runs", "--store", $"postgres://runbook:hunter2@127.0.0.1:{cluster.Port}/no_such_db");
        Assert.Equal(1, missingCode);
        Assert.Contains("database \"no_such_db\" does not exist. Create it first", missingErr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", missingErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", missingErr, StringComparison.Ordinal);
    }
}
