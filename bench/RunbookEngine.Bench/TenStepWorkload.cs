// The workload both kernel benchmarks measure: 10 sequential no-op inline steps, each marking when it was entered.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Bench;

internal sealed class TenStepWorkload
{
    public const int Steps = 10;

    public TenStepWorkload()
    {
        Definition = Registry.Add("ten-noops", async ctx =>
        {
            for (var s = 1; s <= Steps; s++)
            {
                await ctx.StepAsync("noop-" + s.ToString(CultureInfo.InvariantCulture), sc =>
                {
                    Marks.GetOrAdd(sc.RunId, _ => []).Add(Stopwatch.GetTimestamp());
                    return Task.FromResult(true);
                });
            }

            return (JsonNode?)null;
        });
    }

    public WorkflowRegistry Registry { get; } = new();

    public WorkflowDefinition Definition { get; }

    public ConcurrentDictionary<string, List<long>> Marks { get; } = new();

    public static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    /// <summary>Concurrency 1: runs started and executed one after the other; returns the sorted gaps between consecutive step entries (ms) and steps/s end to end.</summary>
    public async Task<(List<double> Gaps, double StepsPerSecond)> MeasureOneAtATimeAsync(IWorkflowStore store, int runs)
    {
        var gaps = new List<double>();
        var client = new WorkflowClient(store);
        var worker = new WorkflowWorker(store, Registry, new WorkerOptions { MaxConcurrentRuns = 1 });
        var sw = Stopwatch.StartNew();
        for (var r = 0; r < runs; r++)
        {
            var run = (await client.StartAsync(Definition)).Run.RunId;
            await worker.RunUntilIdleAsync(CancellationToken.None);
            var ticks = Marks[run];
            for (var s = 1; s < ticks.Count; s++)
            {
                gaps.Add((ticks[s] - ticks[s - 1]) * 1000.0 / Stopwatch.Frequency);
            }
        }

        var rate = runs * Steps / sw.Elapsed.TotalSeconds;
        gaps.Sort();
        return (gaps, rate);
    }
}
