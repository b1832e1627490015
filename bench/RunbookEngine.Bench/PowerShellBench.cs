using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.PowerShell;
using RunbookEngine.Runbooks;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;

namespace RunbookEngine.Bench;

/// <summary>
/// PowerShell steps: the first step in a fresh process (PowerShell's start), a warm step on an open runspace next
/// to a trivial <c>shell</c> step, and steps/s of a 10-step runbook of each through the kernel on SQLite, alternated.
/// </summary>
internal static class PowerShellBench
{
    private const string TrivialScript = "'ok'";

    public static async Task<int> RunAsync(int samples, int runs)
    {
        Console.WriteLine($"first PowerShell step in a fresh process (runspace open + invoke; process start not counted), {samples} processes");
        var cold = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            var output = await ChildOutputAsync(["--powershell-cold-child"]);
            cold.Add(double.Parse(output.Trim(), CultureInfo.InvariantCulture));
        }

        Console.WriteLine($"  median {Median(cold):F0} ms, min {cold.Min():F0} ms, max {cold.Max():F0} ms");

        var powershell = new PowerShellAction();
        var shell = new ShellAction();
        var psWith = new JsonObject { ["script"] = TrivialScript };
        var shWith = new JsonObject { ["command"] = new JsonArray("/bin/true") };
        for (var i = 0; i < 200; i++)
        {
            await powershell.ExecuteAsync(Request(psWith), CancellationToken.None);
            await shell.ExecuteAsync(Request(shWith), CancellationToken.None);
        }

        Console.WriteLine($"one action call, warm, {samples * 200} calls each, alternated");
        var psTimes = new List<double>();
        var shTimes = new List<double>();
        for (var i = 0; i < samples * 200; i++)
        {
            psTimes.Add(await TimeAsync(() => powershell.ExecuteAsync(Request(psWith), CancellationToken.None)));
            shTimes.Add(await TimeAsync(() => shell.ExecuteAsync(Request(shWith), CancellationToken.None)));
        }

        Console.WriteLine($"  powershell {TrivialScript}: p50 {Percentile(psTimes, 0.5):F3} ms, p95 {Percentile(psTimes, 0.95):F3} ms");
        Console.WriteLine($"  shell [/bin/true]:       p50 {Percentile(shTimes, 0.5):F3} ms, p95 {Percentile(shTimes, 0.95):F3} ms");

        var dir = Path.Combine(Path.GetTempPath(), "runbook-ps-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        var actions = ActionCatalog.CreateDefault().AddPowerShell();
        var yaml = new Dictionary<string, string>
        {
            ["powershell"] = TenSteps("action: powershell\n    with: { script: \"'ok'\" }"),
            ["shell"] = TenSteps("action: shell\n    with: { command: [/bin/true] }"),
        };
        foreach (var concurrency in new[] { 1, 8 })
        {
            Console.WriteLine($"10-step runbook through the kernel on SQLite (fsync full), {runs} runs, {concurrency} at a time, alternated twice");
            var rates = yaml.Keys.ToDictionary(k => k, _ => new List<double>());
            for (var round = 0; round < 2; round++)
            {
                foreach (var (name, text) in yaml)
                {
                    rates[name].Add(await StepsPerSecondAsync(actions, text, Path.Combine(dir, $"{name}-{concurrency}-{round}.db"), runs, concurrency));
                }
            }

            foreach (var (name, r) in rates)
            {
                Console.WriteLine($"  {name}: {string.Join(", ", r.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))} steps/s");
            }
        }

        Directory.Delete(dir, recursive: true);
        return 0;
    }

    /// <summary>In a fresh process: the milliseconds from the first PowerShell action call to its result.</summary>
    public static async Task<int> ColdChildAsync()
    {
        var action = new PowerShellAction();
        var start = Stopwatch.GetTimestamp();
        var result = await action.ExecuteAsync(Request(new JsonObject { ["script"] = TrivialScript }), CancellationToken.None);
        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (result["value"]?.GetValue<string>() != "ok")
        {
            await Console.Error.WriteLineAsync($"unexpected result {result.ToJsonString()}");
            return 1;
        }

        Console.WriteLine(ms.ToString("F1", CultureInfo.InvariantCulture));
        return 0;
    }

    private static string TenSteps(string step) =>
        "name: bench\nsteps:\n" + string.Concat(Enumerable.Range(1, 10).Select(i => $"  - id: s{i}\n    {step}\n"));

    private static async Task<double> StepsPerSecondAsync(ActionCatalog actions, string yaml, string db, int runs, int concurrency)
    {
        var (runbook, problems) = new RunbookParser(actions).Parse("bench.yaml", yaml);
        if (runbook is null)
        {
            throw new InvalidOperationException(string.Join('\n', problems));
        }

        await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db });
        var client = new WorkflowClient(store);
        var definition = RunbookDefinitions.ToDefinition(runbook);
        var input = new RunbookRunInput([], false).ToJson();
        for (var i = 0; i < runs; i++)
        {
            await client.StartAsync(definition, new StartRunOptions { Input = input });
        }

        var worker = new WorkflowWorker(store, new RunbookResolver(actions), new WorkerOptions { MaxConcurrentRuns = concurrency, MaxConcurrentActivities = concurrency }, new ActivityRegistry().AddRunbookActions(actions, NullLogger.Instance));
        var start = Stopwatch.GetTimestamp();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        return runs * 10 / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static ActionRequest Request(JsonObject with) => new("run_b", "s", 1, "run_b/1/1", "run_b/1", with, NullLogger.Instance);

    private static async Task<double> TimeAsync(Func<Task> call)
    {
        var start = Stopwatch.GetTimestamp();
        await call();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static async Task<string> ChildOutputAsync(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(PowerShellBench).Assembly.Location);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"child exited with {process.ExitCode}");
    }

    private static double Median(List<double> samples) => Percentile(samples, 0.5);

    private static double Percentile(List<double> samples, double p)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Floor(p * sorted.Count))];
    }
}
