using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RunbookEngine.Testing;

/// <summary>
/// A real Prometheus (Debian's prometheus package) on 127.0.0.1, scraping one target every second. Its data
/// directory is under /tmp/rbprom-*, which .ci/run cleans if a killed test process left one behind.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;

    private PrometheusServer(Process process, string directory, string url)
    {
        this.process = process;
        this.directory = directory;
        Url = url;
    }

    public string Url { get; }

    public static async Task<PrometheusServer> StartAsync(string scrapeTarget)
    {
        var binary = File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus" : throw new InvalidOperationException("Prometheus is not installed: apt-get install prometheus (.ci/run does)");
        var directory = Path.Combine(Path.GetTempPath(), "rbprom-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ['{scrapeTarget}']
            """);
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = directory };
        foreach (var a in new[] { "--config.file=prometheus.yml", $"--storage.tsdb.path={directory}/data", $"--web.listen-address=127.0.0.1:{port}", "--log.level=info" })
        {
            info.ArgumentList.Add(a);
        }

        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is { } line)
            {
                log.Enqueue(line);

                // Logged once the TSDB is open and the web handler answers queries.
                if (line.Contains("Server is ready to receive web requests", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            }
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("Prometheus exited at start:\n" + string.Join('\n', log)));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var server = new PrometheusServer(process, directory, $"http://127.0.0.1:{port}");
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
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
