using RunbookEngine.Testing;

namespace RunbookEngine.Server.Tests;

/// <summary>A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, routing every alert to our webhook.</summary>
public sealed class Alertmanager : IAsyncDisposable
{
    private readonly ServiceProcess process;

    private Alertmanager(ServiceProcess process, string url)
    {
        this.process = process;
        Url = url;
    }

    public string Url { get; }

    public static string? Binary => new[] { "/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager" }.FirstOrDefault(File.Exists);

    public static Task<Alertmanager> StartAsync(string webhookUrl, string token) =>
        StartAsync(webhookUrl, ["authorization:", $"  credentials: {token}"]);

    /// <summary>Starts one that authenticates to our webhook with HTTP basic auth, the password read from a file.</summary>
    public static Task<Alertmanager> StartWithBasicAuthAsync(string webhookUrl, string username, string passwordFile) =>
        StartAsync(webhookUrl, ["basic_auth:", $"  username: {username}", $"  password_file: {passwordFile}"]);

    /// <summary>Starts one whose webhook receiver has these lines of http_config.</summary>
    private static async Task<Alertmanager> StartAsync(string webhookUrl, string[] httpConfig)
    {
        var binary = Binary ?? throw new InvalidOperationException("Alertmanager is not installed: apt-get install prometheus-alertmanager (.ci/run does)");
        var directory = Path.Combine(Path.GetTempPath(), "rbam-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var port = ServiceProcess.FreePort();

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
            {string.Join("\n", httpConfig.Select(l => "          " + l))}
            """);
        // It logs "Listening on" once its API accepts connections.
        var process = await ServiceProcess.StartAsync(
            "Alertmanager",
            binary,
            ["--config.file=alertmanager.yml", $"--storage.path={directory}/data", $"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=info"],
            directory,
            "Listening on");
        return new Alertmanager(process, $"http://127.0.0.1:{port}");
    }

    /// <summary>Posts alerts to Alertmanager's own API, as Prometheus does.</summary>
    public async Task PostAsync(string alertsJson)
    {
        using var http = new HttpClient { BaseAddress = new Uri(Url) };
        using var response = await http.PostAsync("/api/v2/alerts", ServerFixture.JsonBody(alertsJson));
        Assert.True(response.IsSuccessStatusCode, $"Alertmanager refused the alert: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
