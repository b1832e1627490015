using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RunbookEngine.Testing;

/// <summary>
/// A real server program the tests start on 127.0.0.1 (Alertmanager, Prometheus): ready once it logs a known line,
/// killed with its process tree and its working directory removed on dispose.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;

    private ServiceProcess(Process process, string directory)
    {
        this.process = process;
        this.directory = directory;
    }

    /// <summary>Gets a free TCP port on loopback (free when asked; the program binds it right after).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts a program in <paramref name="directory"/> and waits until it logs <paramref name="readyLine"/>.</summary>
    /// <param name="name">The program's name, for errors.</param>
    /// <param name="binary">Its path.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="directory">Its working directory, deleted on dispose.</param>
    /// <param name="readyLine">Text of the log line that says it serves requests.</param>
    /// <returns>The running program.</returns>
    public static async Task<ServiceProcess> StartAsync(string name, string binary, IEnumerable<string> arguments, string directory, string readyLine)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = directory };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        var log = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is { } line)
            {
                log.Enqueue(line);
                if (line.Contains(readyLine, StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            }
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{name} exited at start:\n" + string.Join('\n', log)));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var started = new ServiceProcess(process, directory);
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }

        return started;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for .ci/run to clean.
        }
    }
}
