using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Drills;
using RunbookEngine.PowerShell;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;

namespace RunbookEngine.Bench;

/// <summary>
/// Drill replay speed: a 100-step scenario spanning two hours of incident time, next to a plain run of the same
/// runbook on the same machine (real store, real worker, real shell processes), and every drill in drills/.
/// </summary>
internal static class DrillBench
{
    public static async Task<int> RunAsync(int rounds)
    {
        var root = ScriptBench.RepositoryRoot();
        var work = Path.Combine(Path.GetTempPath(), "runbook-drill-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Path.Combine(work, "runbooks"));
        var actions = ActionCatalog.CreateDefault().AddPowerShell();
        const int Steps = 100;
        var runbook = new StringBuilder("name: hundred\nsteps:\n");
        var drill = new StringBuilder("drill: hundred\nrunbook: ../runbooks/hundred.yaml\nrun: {}\nsteps:\n");
        for (var i = 1; i <= Steps; i++)
        {
            runbook.Append(CultureInfo.InvariantCulture, $"  - id: s{i:000}\n    action: shell\n    with: {{ command: [\"true\"] }}\n");
            drill.Append(CultureInfo.InvariantCulture, $"  s{i:000}: {{ respond: {{ exit_code: 0, stdout: \"\", stderr: \"\" }}, latency: 72s }}\n");
        }

        drill.Append("expect: { outcome: completed }\n");
        var runbookFile = Path.Combine(work, "runbooks", "hundred.yaml");
        await File.WriteAllTextAsync(runbookFile, runbook.ToString());
        Directory.CreateDirectory(Path.Combine(work, "drills"));
        var drillFile = Path.Combine(work, "drills", "hundred.drill.yaml");
        await File.WriteAllTextAsync(drillFile, drill.ToString());

        var replays = new List<double>();
        var plain = new List<double>();
        TimeSpan covered = default;
        for (var r = 0; r < rounds + 1; r++)
        {
            var started = TimeProvider.System.GetTimestamp();
            var loaded = DrillLoader.Load(drillFile, actions, [Path.Combine(work, "runbooks")]);
            var result = await new DrillRunner(actions).RunAsync(loaded.Drill!, loaded.Runbook!, CancellationToken.None);
            var replay = TimeProvider.System.GetElapsedTime(started).TotalMilliseconds;
            if (!result.Passed)
            {
                await Console.Error.WriteLineAsync(DrillReports.Text(result));
                return 1;
            }

            covered = result.VirtualDuration;
            started = TimeProvider.System.GetTimestamp();
            await PlainRunAsync(actions, runbookFile, Path.Combine(work, $"plain-{r}.db"));
            var run = TimeProvider.System.GetElapsedTime(started).TotalMilliseconds;
            if (r > 0)
            {
                // Round 0 warms the JIT and the runbook cache; it is not counted.
                replays.Add(replay);
                plain.Add(run);
            }
        }

        Console.WriteLine($"100-step drill, {Durations.Format(covered)} of incident time, {rounds} rounds after one warm-up (parse + replay, a fresh store each time)");
        Console.WriteLine($"  drill replay: median {Median(replays):F0} ms ({Median(replays) / Steps:F2} ms per step), min {replays.Min():F0}, max {replays.Max():F0}");
        Console.WriteLine($"  plain run of the same runbook (real shell `true` per step, SQLite, one worker): median {Median(plain):F0} ms ({Median(plain) / Steps:F2} ms per step), min {plain.Min():F0}, max {plain.Max():F0}");

        var folder = Path.Combine(root, "drills");
        var files = DrillLoader.Files([folder]).Files;
        var all = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            var started = TimeProvider.System.GetTimestamp();
            foreach (var file in files)
            {
                var loaded = DrillLoader.Load(file, actions, [Path.Combine(root, "runbooks")]);
                var result = await new DrillRunner(actions).RunAsync(loaded.Drill!, loaded.Runbook!, CancellationToken.None);
                if (!result.Passed)
                {
                    await Console.Error.WriteLineAsync(DrillReports.Text(result));
                    return 1;
                }
            }

            all.Add(TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
        }

        Console.WriteLine($"drills/ ({files.Count} drills), {rounds} rounds in this process: median {Median(all):F0} ms for the folder ({Median(all) / files.Count:F0} ms per drill), min {all.Min():F0}, max {all.Max():F0}");
        Directory.Delete(work, recursive: true);
        return 0;
    }

    private static async Task PlainRunAsync(ActionCatalog actions, string runbookFile, string db)
    {
        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db, Synchronous = SqliteSynchronous.Normal });
        var service = new LocalRunbookService(store, actions, [Path.GetDirectoryName(runbookFile)!], "bench");
        var started = await service.StartAsync(new StartRequest { Runbook = runbookFile }, new Caller("user:bench", []), CancellationToken.None);
        await using var worker = RunbookWorkers.Create(store, actions, new WorkerOptions { WorkerId = "bench" }, NullLoggerFactory.Instance);
        await worker.RunUntilIdleAsync(CancellationToken.None);
        var run = await service.GetRunAsync(started.Run.RunId, CancellationToken.None);
        if (run.Status != "completed")
        {
            throw new InvalidOperationException($"the plain run ended {run.Status}: {run.Error}");
        }
    }

    private static double Median(List<double> samples) => samples.Order().ElementAt(samples.Count / 2);
}
