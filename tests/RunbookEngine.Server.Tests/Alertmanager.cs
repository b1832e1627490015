using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RunbookEngine.Server.Tests;

/// <summary>A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, routing every alert to our webhook.</summary>
public sealed class Alertmanager : IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;

    private Alertmanager(Process process, string directory, string url)
    {
        this.process = process;
        this.directory = directory;
        Url = url;
    }

    public string Url { get; }

    public static string? Binary => new[] { "/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager" }.FirstOrDefault(File.Exists);

    public static async Task<Alertmanager> StartAsync(string webhookUrl, string token)
    {
        var binary = Binary ?? throw new InvalidOperationException("Alertmanager is not installed: apt-get install prometheus-alertmanager (.ci/run does)");
        var directory = Path.Combine(Path.GetTempPath(), "rbam-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var port = FreePort();

        // group_interval and repeat_interval of 1s: a still-firing alert is notified again every second, which is
        // the repeat the server must attach to the existing run instead of starting another.
        await File.WriteAllTextAsync(Path.Combine(directory, "alertmanager.yml"), $"""
            route:
              receiver: runbook
              group_by: ['alertname', 'instance']
              group_wait: 100ms
              group_interval: 1s
              repeat_interval: 1s
            receivers:
              - name: runbook
                webhook_configs:
                  - url: {webhookUrl}/hooks/alertmanager
                    send_resolved: true
                    http_config:
                      authorization:
                        credentials: {token}
            """);
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = directory };
        foreach (var a in new[] { "--config.file=alertmanager.yml", $"--storage.path={directory}/data", $"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=info" })
        {
            info.ArgumentList.Add(a);
        }

        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is { } line)
            {
                log.Enqueue(line);
                if (line.Contains("Listening on", StringComparison.Ordinal))
                {
                    listening.TrySetResult();
                }
            }
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("Alertmanager exited at start:\n" + string.Join('\n', log)));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var am = new Alertmanager(process, directory, $"http://127.0.0.1:{port}");
        try
        {
            // It logs "Listening on" once its API accepts connections.
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            await am.DisposeAsync();
            throw;
        }

        return am;
    }

    /// <summary>Posts alerts to Alertmanager's own API, as Prometheus does.</summary>
    public async Task PostAsync(string alertsJson)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Url) };
        using var response = await http.PostAsync("/api/v2/alerts", ServerFixture.JsonBody(alertsJson));
        Assert.True(response.IsSuccessStatusCode, $"Alertmanager refused the alert: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
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
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
