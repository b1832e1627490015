using System.Diagnostics;

namespace RunbookEngine.Testing;

/// <summary>The crash host (tests/RunbookEngine.CrashHost) started as a real child process, for SIGKILL tests on any store.</summary>
public sealed class HostProcess : IDisposable
{
    private readonly Process process;
    private readonly TaskCompletionSource crashPoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Text.StringBuilder output = new();

    private HostProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data == "CRASHPOINT")
            {
                crashPoint.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public static HostProcess Start(params string[] args)
    {
        // Built next to the test project that references it: tests/<project>/bin/... -> tests/RunbookEngine.CrashHost/bin/...
        var here = AppContext.BaseDirectory;
        var project = Path.GetFileName(here[..here.IndexOf(Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal)]);
        var dll = Path.Combine(here.Replace(project, "RunbookEngine.CrashHost", StringComparison.Ordinal), "RunbookEngine.CrashHost.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("The crash host was not built next to the tests.", dll);
        }

        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        return new HostProcess(Process.Start(info)!);
    }

    public static async Task<string> RunToEndAsync(TimeSpan limit, params string[] args)
    {
        using var host = Start(args);
        var code = await host.WaitForExitAsync(limit);
        Assert.True(code == 0, $"crash host exited with {code}:\n{host.Output}");
        return host.Output;
    }

    public async Task WaitForCrashPointAsync(TimeSpan limit)
    {
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(crashPoint.Task, exited).WaitAsync(limit);
        Assert.True(first == crashPoint.Task, $"the host ended before reaching its crash point:\n{Output}");
    }

    /// <summary>SIGKILL on Linux: no finally blocks, no flush, no graceful anything.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        try
        {
            await process.WaitForExitAsync().WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the host did not finish within {limit}:\n{Output}");
        }

        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.Dispose();
    }
}
