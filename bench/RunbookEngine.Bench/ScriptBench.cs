using System.Diagnostics;
using System.Globalization;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Scripting;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Bench;

/// <summary>
/// C# script runbooks: the cold compile of each example (a fresh process, an empty cache), and the time from
/// starting the real `runbook run` process to the first step of a cached script runbook next to its YAML twin.
/// </summary>
internal static class ScriptBench
{
    public static async Task<int> RunAsync(int repeats)
    {
        var root = RepositoryRoot();
        var examples = Path.Combine(root, "runbooks");
        var cli = Path.Combine(root, "src", "RunbookEngine.Cli", "bin", "Release", "net10.0", "runbook.dll");
        if (!File.Exists(cli))
        {
            await Console.Error.WriteLineAsync($"build the CLI first (dotnet build src/RunbookEngine.Cli -c Release): {cli} is missing");
            return 2;
        }

        var work = Path.Combine(Path.GetTempPath(), "runbook-script-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(work);

        Console.WriteLine($"cold compile: a fresh process per sample, empty cache, {repeats} samples per example");
        foreach (var script in Directory.GetFiles(examples, "*.csx").Order(StringComparer.Ordinal))
        {
            var samples = new List<double>();
            for (var i = 0; i < repeats; i++)
            {
                var output = await RunAsync("dotnet", [typeof(ScriptBench).Assembly.Location, "--compile-child", script, Path.Combine(work, $"cold-{i}-{Path.GetFileName(script)}")], null);
                samples.Add(double.Parse(output.Trim(), CultureInfo.InvariantCulture));
            }

            Console.WriteLine($"  {Path.GetFileName(script)}: median {Median(samples):F0} ms, min {samples.Min():F0} ms, max {samples.Max():F0} ms");
        }

        Console.WriteLine($"process start to first step, `runbook run` (live), {repeats} samples each, alternating; script cache warm");
        var pairs = new[] { ("disk-full-cleanup", "disk-full-cleanup-script") };
        var cache = Path.Combine(work, "cache");
        foreach (var (yaml, script) in pairs)
        {
            var timings = new Dictionary<string, List<double>> { [yaml] = [], [script] = [] };
            await FirstStepAsync(cli, examples, cache, work, script, "warm-up"); // compiles into the cache
            for (var i = 0; i < repeats; i++)
            {
                foreach (var name in new[] { yaml, script })
                {
                    timings[name].Add(await FirstStepAsync(cli, examples, cache, work, name, i.ToString(CultureInfo.InvariantCulture)));
                }
            }

            foreach (var (name, samples) in timings)
            {
                Console.WriteLine($"  {name}: median {Median(samples):F0} ms, p90 {Percentile(samples, 0.9):F0} ms, min {samples.Min():F0} ms");
            }

            Console.WriteLine($"  script minus YAML (medians): {Median(timings[script]) - Median(timings[yaml]):F0} ms (target: under 100 ms)");
        }

        return 0;
    }

    /// <summary>In a fresh process: parses and compiles one script into an empty cache, printing the milliseconds.</summary>
    public static int CompileChild(string script, string cacheDirectory)
    {
        ScriptCache.Directory = cacheDirectory;
        var source = File.ReadAllText(script);
        var watch = Stopwatch.StartNew();
        var (runbook, problems) = ScriptRunbooks.Parse(ActionCatalog.CreateDefault(), Path.GetFileName(script), source);
        watch.Stop();
        if (runbook is null || ScriptCache.Compilations != 1)
        {
            Console.Error.WriteLine(string.Join('\n', problems));
            return 1;
        }

        Console.WriteLine(watch.Elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>Starts `runbook run NAME` on a fresh store; the first step's recorded start minus the moment the process was started.</summary>
    private static async Task<double> FirstStepAsync(string cli, string examples, string cache, string work, string name, string sample)
    {
        var store = Path.Combine(work, $"{name}-{sample}.db");
        var started = TimeProvider.System.GetUtcNow();
        // A runbooks directory holding only this runbook: `run NAME` loads the whole directory.
        var only = Path.Combine(work, "only-" + name);
        if (!Directory.Exists(only))
        {
            Directory.CreateDirectory(only);
            var file = Directory.GetFiles(examples).Single(f => Path.GetFileNameWithoutExtension(f) == name);
            File.Copy(file, Path.Combine(only, Path.GetFileName(file)));
        }

        var env = new Dictionary<string, string> { ["RUNBOOK_STORE"] = store, ["RUNBOOK_PATH"] = only, ["RUNBOOK_SCRIPT_CACHE"] = cache, ["RUNBOOK_USER"] = "bench" };
        await RunAsync("dotnet", [cli, "run", name, "-p", "path=/tmp", "-p", "threshold=100", "-o", "json"], env);
        await using var db = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = store });
        var run = (await db.ListRunsAsync(new RunQuery { Limit = 1 }, CancellationToken.None)).Single();
        var timeline = await db.GetTimelineAsync(run.RunId, 0, 1000, CancellationToken.None);
        return (timeline.First(e => e.Kind == "step.started").At - started).TotalMilliseconds;
    }

    private static async Task<string> RunAsync(string file, string[] args, Dictionary<string, string>? env)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? [])
        {
            info.Environment[k] = v;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
        }

        return await stdout;
    }

    /// <summary>The clone the benchmark runs from (the directory with RunbookEngine.sln).</summary>
    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RunbookEngine.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("run the benchmark from a clone of the repository");
    }

    private static double Median(List<double> samples) => Percentile(samples, 0.5);

    private static double Percentile(List<double> samples, double p)
    {
        var sorted = samples.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(p * (sorted.Count - 1)))];
    }
}
