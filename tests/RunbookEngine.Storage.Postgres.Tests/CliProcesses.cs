using System.Diagnostics;
using Xunit.Abstractions;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// Real `runbook` CLI processes (the build next to the tests, or the image's entrypoint when an image is given),
/// each with the environment it is given: short commands run to their end, long-running ones (server, worker)
/// are started and killed when the test ends.
/// </summary>
internal sealed class CliProcesses(ITestOutputHelper output, string directory, DockerImage? image = null) : IDisposable
{
    private readonly List<Process> started = [];

    /// <summary>Runs a short command to its end; returns its exit code and its output (or its errors when it failed).</summary>
    public async Task<(int Code, string Output)> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        using var p = Process.Start(Info(environment, arguments))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (p.ExitCode, p.ExitCode == 0 ? await stdout : await stderr);
    }

    /// <summary>Starts a long-running command (server or worker) and returns it with the first line it prints.</summary>
    public Task<(Process Process, string FirstLine)> StartAsync(string name, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartAsync(name, environment, arguments, _ => true);

    /// <summary>Starts a long-running command and returns it with the first line it prints that <paramref name="banner"/> accepts (log lines may come first).</summary>
    public async Task<(Process Process, string FirstLine)> StartAsync(string name, IReadOnlyDictionary<string, string> environment, string[] arguments, Func<string, bool> banner)
    {
        var info = Info(environment, arguments);
        info.Environment["WORKER_NAME"] = name;
        var p = Process.Start(info)!;
        started.Add(p);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Log($"[{name}] {e.Data}");
            }
        };
        p.BeginErrorReadLine();
        string? first;
        while ((first = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) is not null && !banner(first))
        {
            Log($"[{name}] {first}");
        }

        Assert.True(first is not null, $"{name} exited before it printed its banner");

        // Keep reading what it prints, so that a full pipe never blocks it.
        _ = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync() is { } line)
            {
                Log($"[{name}] {line}");
            }
        });
        return (p, first);
    }

    /// <summary>Sends a signal (INT, TERM) to a process, as Ctrl+C or `docker stop` would.</summary>
    public static async Task SignalAsync(Process p, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public void Dispose()
    {
        foreach (var p in started)
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }

            p.Dispose();
        }
    }

    private ProcessStartInfo Info(IReadOnlyDictionary<string, string> environment, IEnumerable<string> arguments)
    {
        if (image is not null)
        {
            var inImage = image.Start(arguments);
            foreach (var (name, value) in environment)
            {
                inImage.Environment[name] = value;
            }

            return inImage;
        }

        var dll = Path.Combine(AppContext.BaseDirectory.Replace(Path.Combine("tests", "RunbookEngine.Storage.Postgres.Tests"), Path.Combine("src", "RunbookEngine.Cli"), StringComparison.Ordinal), "runbook.dll");
        Assert.True(File.Exists(dll), $"the CLI is not built next to the tests: {dll}");
        // Through `env --default-signal=INT`: a test run started as a background job (`.ci/run &`) ignores SIGINT,
        // and so would the CLI it starts, unlike the one in a user's terminal that Ctrl+C stops.
        var info = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        info.ArgumentList.Add(dll);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        return info;
    }

    private void Log(string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has ended; the rest is only drained.
        }
    }
}
