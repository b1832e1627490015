namespace RunbookEngine.Testing;

/// <summary>
/// A real Prometheus (Debian's prometheus package) on 127.0.0.1, scraping one target every second. Its data
/// directory is under /tmp/rbprom-*, which .ci/run cleans if a killed test process left one behind.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly ServiceProcess process;

    private PrometheusServer(ServiceProcess process, string url)
    {
        this.process = process;
        Url = url;
    }

    public string Url { get; }

    public static async Task<PrometheusServer> StartAsync(string scrapeTarget)
    {
        var binary = File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus" : throw new InvalidOperationException("Prometheus is not installed: apt-get install prometheus (.ci/run does)");
        var directory = Path.Combine(Path.GetTempPath(), "rbprom-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var port = ServiceProcess.FreePort();
        await File.WriteAllTextAsync(Path.Combine(directory, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ['{scrapeTarget}']
            """);

        // Logged once the TSDB is open and the web handler answers queries.
        var process = await ServiceProcess.StartAsync(
            "Prometheus",
            binary,
            ["--config.file=prometheus.yml", $"--storage.tsdb.path={directory}/data", $"--web.listen-address=127.0.0.1:{port}", "--log.level=info"],
            directory,
            "Server is ready to receive web requests");
        return new PrometheusServer(process, $"http://127.0.0.1:{port}");
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
