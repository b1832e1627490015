using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RunbookEngine.Cli.Tests;

/// <summary>A scratch directory with its own store and runbooks, and two ways to run the CLI in it.</summary>
public sealed class CliFixture : IDisposable
{
    /// <summary>Scripts compiled by in-process CLI calls go to one directory of this test process.</summary>
    static CliFixture() => Runbooks.Scripting.ScriptCache.Directory ??= Path.Combine(Path.GetTempPath(), "runbook-cli-tests", $"scripts-{Environment.ProcessId}");

    /// <summary>Processes started by <see cref="Start(string, string, string[])"/>: any still running when the test ends is killed, so a failed test leaves no worker behind.</summary>
    private readonly List<(int Id, DateTime StartTime)> started = [];

    public CliFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "runbook-cli-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(RunbooksDir);
    }

    public string Directory { get; }

    public string RunbooksDir => Path.Combine(Directory, "runbooks");

    public string StorePath => Path.Combine(Directory, "store", "runbook.db");

    public static string ExamplesDir => Path.Combine(AppContext.BaseDirectory, "runbooks");

    /// <summary>Gets the built CLI (src/RunbookEngine.Cli's runbook.dll, built with the tests).</summary>
    public static string Dll
    {
        get
        {
            var dll = Path.Combine(AppContext.BaseDirectory.Replace(Path.Combine("tests", "RunbookEngine.Cli.Tests"), Path.Combine("src", "RunbookEngine.Cli"), StringComparison.Ordinal), "runbook.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("the CLI is not built next to the tests", dll);
        }
    }

    public string Write(string name, string yaml)
    {
        var path = Path.Combine(RunbooksDir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public void UseExamples()
    {
        foreach (var f in System.IO.Directory.GetFiles(ExamplesDir).Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".csx", StringComparison.Ordinal)))
        {
            File.Copy(f, Path.Combine(RunbooksDir, Path.GetFileName(f)), overwrite: true);
        }

        // The scripts some examples name with file:, beside them as in the repository.
        var scripts = Path.Combine(RunbooksDir, "scripts");
        System.IO.Directory.CreateDirectory(scripts);
        foreach (var f in System.IO.Directory.GetFiles(Path.Combine(ExamplesDir, "scripts")))
        {
            File.Copy(f, Path.Combine(scripts, Path.GetFileName(f)), overwrite: true);
        }
    }

    /// <summary>Makes a named pipe in the test's directory: a step that reads it is in flight until the test writes.</summary>
    public async Task<string> FifoAsync(string name)
    {
        var fifo = Path.Combine(Directory, name);
        using var mkfifo = Process.Start("mkfifo", [fifo]);
        await mkfifo.WaitForExitAsync();
        return fifo;
    }

    /// <summary>Opens a named pipe for writing: returns once a step has opened it for reading.</summary>
    public static Task<FileStream> OpenForWritingAsync(string fifo) =>
        Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write)).WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>Runs the CLI in this process.</summary>
    public async Task<(int Code, string Out, string Err)> InvokeAsync(string user, params string[] args) =>
        await InvokeAsync(user, [], CancellationToken.None, args);

    public async Task<(int Code, string Out, string Err)> InvokeAsync(string user, Dictionary<string, string> env, CancellationToken ct, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var vars = new Dictionary<string, string>(env) { ["RUNBOOK_USER"] = user, ["RUNBOOK_STORE"] = StorePath, ["RUNBOOK_PATH"] = RunbooksDir };
        var code = await CliApp.InvokeAsync(args, new CliIo(output, error, k => vars.GetValueOrDefault(k)), ct);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Starts the CLI as a real process (the built runbook.dll).</summary>
    public Process Start(string user, string groups, params string[] args) => Start(user, groups, [], args);

    /// <summary>Starts <c>runbook serve</c> on a free loopback port and waits for its banner.</summary>
    /// <param name="env">More environment variables (e.g. a PostgreSQL store).</param>
    /// <param name="args">More arguments after <c>serve --urls http://127.0.0.1:0</c>.</param>
    /// <returns>The process, its address and its banner line.</returns>
    public async Task<(Process Server, string Url, string Banner)> ServeAsync(Dictionary<string, string> env, params string[] args)
    {
        var server = Start("ops", string.Empty, env, ["serve", "--urls", "http://127.0.0.1:0", .. args]);
        var banner = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) ?? string.Empty;
        var url = System.Text.RegularExpressions.Regex.Match(banner, @"http://127\.0\.0\.1:\d+").Value;
        Assert.True(url.Length > 0, banner);
        return (server, url, banner);
    }

    /// <summary>Starts the CLI as a real process with more environment variables.</summary>
    public Process Start(string user, string groups, Dictionary<string, string> env, params string[] args)
    {
        var dll = Dll;

        // Through `env --default-signal=INT`: a test run started as a background job (`.ci/run &`) ignores SIGINT,
        // and so would the CLI it starts, unlike the one in a user's terminal that Ctrl+C stops.
        var info = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory,
        };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        info.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["RUNBOOK_USER"] = user;
        info.Environment["RUNBOOK_GROUPS"] = groups;
        info.Environment["RUNBOOK_STORE"] = StorePath;
        info.Environment["RUNBOOK_PATH"] = RunbooksDir;
        info.Environment["RUNBOOK_SCRIPT_CACHE"] = Path.Combine(Directory, "scripts");
        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }

        var p = Process.Start(info)!;
        lock (started)
        {
            started.Add((p.Id, p.StartTime)); // by id: the test disposes its Process object before this fixture
        }

        return p;
    }

    public Task<(int Code, string Out, string Err)> RunProcessAsync(string user, string groups, params string[] args) => RunProcessAsync(user, groups, [], args);

    public async Task<(int Code, string Out, string Err)> RunProcessAsync(string user, string groups, Dictionary<string, string> env, params string[] args)
    {
        using var p = Start(user, groups, env, args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return (p.ExitCode, await stdout, await stderr);
    }

    public async Task<string> WaitingRunAsync()
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            var (_, json, _) = await InvokeAsync("observer", "runs", "--status", "waiting", "-o", "json");
            if (JsonNode.Parse(json) is JsonArray { Count: > 0 } runs)
            {
                return runs[0]!["run_id"]!.GetValue<string>();
            }

            await Task.Yield();
        }

        throw new TimeoutException("no run reached 'waiting'");
    }

    public void Dispose()
    {
        lock (started)
        {
            foreach (var (id, startTime) in started)
            {
                try
                {
                    using var p = Process.GetProcessById(id);
                    if (p.StartTime == startTime && !p.HasExited)
                    {
                        p.Kill(entireProcessTree: true);
                    }
                }
                catch (ArgumentException)
                {
                    // It has exited.
                }
                catch (InvalidOperationException)
                {
                    // It exited meanwhile.
                }
            }
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS.
        }
    }
}
