using System.Text.Json.Nodes;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Tests;

public sealed class PruneCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    /// <summary>Two runs that ended 40 days ago and one started then that still waits, written by a worker on a clock set back.</summary>
    private async Task<(string[] Old, string Live)> OldRunsAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(cli.StorePath)!);
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = cli.StorePath });
        var h = new Harness(store, new ManualTimeProvider(TimeProvider.System.GetUtcNow() - TimeSpan.FromDays(40))); // the CLI prunes by the real clock
        var two = h.Registry.Add("two", async ctx =>
        {
            await ctx.StepAsync("a", _ => Task.FromResult(1));
            return JsonValue.Create(await ctx.StepAsync("b", _ => Task.FromResult(2)));
        });
        var waits = h.Registry.Add("waits", async ctx =>
        {
            await ctx.WaitForSignalAsync("go");
            return null;
        });
        var a = (await h.Client.StartAsync(two, new StartRunOptions { Actor = "user:alice" })).Run.RunId;
        var b = (await h.Client.StartAsync(two)).Run.RunId;
        var live = (await h.Client.StartAsync(waits)).Run.RunId;
        await h.Worker().RunUntilIdleAsync(CancellationToken.None);
        return ([a, b], live);
    }

    [Fact]
    public async Task Prune_dry_run_counts_then_prune_exports_each_old_run_removes_it_and_status_says_it_was_pruned()
    {
        var (old, live) = await OldRunsAsync();
        cli.Write("noop.yaml", """
            name: noop
            steps:
              - id: say
                action: log
                with: { message: hello }
            """);
        var (ran, _, _) = await cli.InvokeAsync("alice", "run", "noop");
        Assert.Equal(0, ran);

        var (dry, dryJson, _) = await cli.InvokeAsync("ops", "prune", "--older-than", "30d", "--dry-run", "-o", "json");
        Assert.Equal(0, dry);
        var counted = JsonNode.Parse(dryJson)!;
        Assert.Equal(2, counted["runs"]!.GetValue<long>());
        Assert.True(counted["dry_run"]!.GetValue<bool>());
        Assert.Equal(4, JsonNode.Parse((await cli.InvokeAsync("ops", "runs", "-o", "json")).Out)!.AsArray().Count); // nothing removed

        var export = Path.Combine(cli.Directory, "export");
        var (code, output, err) = await cli.InvokeAsync("ops", "prune", "--older-than", "30d", "--export", export);

        Assert.True(code == 0, err);
        Assert.Contains("removed 2 finished runs", output, StringComparison.Ordinal);
        Assert.Contains("2 exported to", output, StringComparison.Ordinal);
        var remaining = JsonNode.Parse((await cli.InvokeAsync("ops", "runs", "-o", "json")).Out)!.AsArray();
        Assert.Equal(2, remaining.Count);
        Assert.Contains(remaining, r => r!["run_id"]!.GetValue<string>() == live);
        foreach (var id in old)
        {
            // The export is what `runbook timeline --format json` printed; its last hash is the tombstone's.
            var file = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(export, id + ".json")))!;
            Assert.Equal(id, file["run_id"]!.GetValue<string>());
            Assert.True(file["chain_intact"]!.GetValue<bool>());
            var lastHash = file["events"]!.AsArray()[^1]!["hash"]!.GetValue<string>();
            var (status, _, why) = await cli.InvokeAsync("ops", "status", id);
            Assert.Equal(2, status);
            Assert.Contains($"run '{id}' (two, completed", why, StringComparison.Ordinal);
            Assert.Contains("by user:ops", why, StringComparison.Ordinal);
            Assert.Contains(lastHash, why, StringComparison.Ordinal);
        }

        Assert.Empty(Directory.GetFiles(export, "*.tmp"));
        var (again, againOut, _) = await cli.InvokeAsync("ops", "prune", "--older-than", "30d");
        Assert.Equal(0, again);
        Assert.Contains("removed 0 finished runs", againOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10m", "--older-than '10m' is not a duration of at least 1h")]
    [InlineData("soon", "--older-than 'soon' is not a duration")]
    public async Task Prune_refuses_a_retention_that_is_not_a_duration_of_an_hour_or_more(string value, string message)
    {
        var (code, _, err) = await cli.InvokeAsync("ops", "prune", "--older-than", value);

        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prune_refuses_a_server_and_a_bad_batch_size_with_what_to_do()
    {
        var (remote, _, why) = await cli.InvokeAsync("ops", "--server", "http://127.0.0.1:9", "prune", "--older-than", "30d");
        Assert.Equal(2, remote);
        Assert.Contains("serve --retention", why, StringComparison.Ordinal);

        var (batch, _, batchWhy) = await cli.InvokeAsync("ops", "prune", "--older-than", "30d", "--batch", "0");
        Assert.Equal(2, batch);
        Assert.Contains("--batch must be from 1 to 10000", batchWhy, StringComparison.Ordinal);
    }
}
