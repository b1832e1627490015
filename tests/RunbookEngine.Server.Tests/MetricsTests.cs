using System.Net;
using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Server.Tests;

/// <summary><c>GET /metrics</c> on serve, scraped by a real Prometheus (Debian's package) and queried with PromQL.</summary>
public sealed class MetricsTests : IAsyncDisposable
{
    private readonly ServerFixture server = new();
    private TaskCompletionSource scraped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Prometheus_scrapes_serve_and_PromQL_returns_the_runs_and_step_attempts_of_a_run()
    {
        await server.StartAsync();
        server.Write("metered.yaml", "name: metered\nsteps:\n  - id: one\n    action: log\n    with: { message: a }\n  - id: two\n    action: log\n    with: { message: b }\n");

        // Prometheus scrapes serve through a pass-through on 127.0.0.1 that makes each scrape an event to wait for.
        using var http = new HttpClient();
        await using var relay = new LocalHttpServer((request, _) =>
        {
#pragma warning disable VSTHRD002 // LocalHttpServer's handler is synchronous; the call is to 127.0.0.1.
            var text = http.GetStringAsync(server.Url + "/metrics").GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
            Interlocked.Exchange(ref scraped, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return (200, text, "text/plain; version=0.0.4");
        });
        await using var prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{relay.Port}");

        using var api = server.Http(server.Operator);
        using var started = await api.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"metered"}"""));
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        var runId = (await ServerFixture.ReadAsync(started))!["run"]!["run_id"]!.GetValue<string>();
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "completed", "the run to complete");

        Assert.Equal(1, await QueryAsync(prometheus, """sum(runbook_run_finished_total{runbook_workflow="metered",status="completed"})""", atLeast: 1));
        Assert.Equal(1, await QueryAsync(prometheus, """sum(runbook_run_started_total{runbook_workflow="metered"})""", atLeast: 1));
        Assert.True(await QueryAsync(prometheus, """sum(runbook_step_attempts_total{outcome="completed"})""", atLeast: 2) >= 2);
        Assert.True(await QueryAsync(prometheus, """sum(runbook_step_duration_seconds_count)""", atLeast: 2) >= 2);
    }

    [Fact]
    public async Task Metrics_are_open_by_default_and_need_a_token_when_the_server_says_so()
    {
        await server.StartAsync();
        using var anonymous = new HttpClient();
        using var open = await anonymous.GetAsync(server.Url + "/metrics");
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        Assert.StartsWith("text/plain", open.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);

        await using var guarded = new ServerFixture();
        await guarded.StartAsync(metricsRequireToken: true);
        using var refused = await anonymous.GetAsync(guarded.Url + "/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var viewer = guarded.Http(guarded.Viewer);
        using var allowed = await viewer.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    /// <summary>
    /// The value of a PromQL query once it reaches <paramref name="atLeast"/>: after each scrape, the samples of the
    /// one before are in Prometheus's head, so a few scrapes at most.
    /// </summary>
    private async Task<double> QueryAsync(PrometheusServer prometheus, string query, double atLeast)
    {
        using var http = new HttpClient();
        var last = double.NaN;
        for (var i = 0; i < 30; i++)
        {
            await Volatile.Read(ref scraped).Task.WaitAsync(TimeSpan.FromSeconds(30));
            var answer = JsonNode.Parse(await http.GetStringAsync($"{prometheus.Url}/api/v1/query?query={Uri.EscapeDataString(query)}"))!;
            if (answer["data"]?["result"] is JsonArray { Count: > 0 } result)
            {
                last = double.Parse(result[0]!["value"]![1]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
                if (last >= atLeast)
                {
                    return last;
                }
            }
        }

        throw new TimeoutException($"Prometheus answered {query} with {last}, never {atLeast} or more");
    }
}
