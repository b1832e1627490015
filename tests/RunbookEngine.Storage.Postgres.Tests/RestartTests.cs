using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;
using Xunit.Abstractions;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>PostgreSQL itself restarted under load, on a cluster of this test's own.</summary>
public sealed class RestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Runs_in_flight_survive_a_database_restart_workers_reconnect_and_nothing_is_lost()
    {
        await using var cluster = await PostgresCluster.StartAsync();
        await using var pg = await PgTest.CreateAsync(cluster);
        var registry = new WorkflowRegistry();
        var executions = new ConcurrentDictionary<string, int>();
        var executed = 0;
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var definition = registry.Add("five", async ctx =>
        {
            var total = 0;
            for (var i = 1; i <= 5; i++)
            {
                var name = $"s{i}";
                total += await ctx.StepAsync(name, sc =>
                {
                    executions.AddOrUpdate($"{sc.RunId}/{name}", 1, (_, n) => n + 1);
                    if (Interlocked.Increment(ref executed) == 60)
                    {
                        halfway.TrySetResult();
                    }

                    return Task.FromResult(i);
                });
            }

            return JsonValue.Create(total);
        });
        var client = new WorkflowClient(await pg.OpenAsync());
        var runIds = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            runIds.Add((await client.StartAsync(definition, new StartRunOptions { IdempotencyKey = $"restart-{i}" })).Run.RunId);
        }

        using var stop = new CancellationTokenSource();
        var workers = new List<Task>();
        var workerStores = new List<PostgresWorkflowStore>();
        for (var w = 0; w < 2; w++)
        {
            var store = await pg.OpenAsync(o => o with { ReconnectWindow = TimeSpan.FromSeconds(90) });
            workerStores.Add(store);
            var worker = new WorkflowWorker(store, registry, new WorkerOptions { WorkerId = $"w{w}", MaxConcurrentRuns = 8, LeaseDuration = TimeSpan.FromSeconds(5), PollInterval = TimeSpan.FromMilliseconds(200) }, null, TimeProvider.System, NullLoggerFactory.Instance);
            workers.Add(worker.RunAsync(stop.Token));
        }

        await halfway.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var before = executed;
        await cluster.RestartAsync();
        output.WriteLine($"restarted PostgreSQL after {before} step executions");

        var observer = await pg.OpenAsync();
        await pg.WaitForEndedAsync(observer, runIds, TimeSpan.FromSeconds(180));
        await stop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        foreach (var id in runIds)
        {
            var run = await observer.GetRunAsync(id, CancellationToken.None);
            Assert.Equal(RunStatus.Completed, run!.Status);
            Assert.Equal("15", run.Output);
            Assert.Null(TimelineChain.Verify(await observer.GetTimelineAsync(id, 0, 10_000, CancellationToken.None)));
        }

        Assert.Equal(200, executions.Count);
        var retried = workerStores.Sum(s => s.TransientFailures);
        output.WriteLine($"the workers' stores met the restart {retried} time(s) and retried");
        Assert.True(retried > 0, "the workers never noticed the restart: the test did not test anything");

        // A step may run twice only if the restart cut the connection in the middle of committing its
        // outcome (the commit's result is unknowable); every other step ran exactly once.
        var twice = executions.Where(e => e.Value > 1).ToList();
        output.WriteLine($"{twice.Count} of 200 steps executed more than once: {string.Join(", ", twice.Select(t => t.Key))}");
        Assert.All(executions.Values, n => Assert.InRange(n, 1, 2));
        Assert.True(twice.Count <= 16, $"{twice.Count} steps ran twice; at most the two workers' in-flight commits may.");
    }
}
