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

    [Fact]
    public async Task Webhook_deliveries_are_counted_by_source_and_outcome_and_their_alerts_by_what_they_did()
    {
        server.Write("disk.yaml", "name: disk\ntriggers:\n  - source: alertmanager\n    match: [\"alertname = MeteredDiskFull\"]\nsteps:\n  - id: say\n    action: log\n    with: { message: hi }\n");
        await server.StartAsync();
        const string Delivery = """
            {"version": "4", "status": "firing", "receiver": "runbook", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "groupKey": "g",
             "alerts": [{"status": "firing", "labels": {"alertname": "MeteredDiskFull"}, "annotations": {}, "startsAt": "2026-12-06T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "fp-metered"}]}
            """;
        var before = await ScrapeAsync();

        using var anonymous = server.Http(null);
        using var refused = await anonymous.PostAsync("/hooks/alertmanager", ServerFixture.JsonBody(Delivery));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var op = server.Http(server.Operator);
        using var accepted = await op.PostAsync("/hooks/alertmanager", ServerFixture.JsonBody(Delivery));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var after = await ScrapeAsync();

        // Other tests' servers in this process count too: what this test sent is at least the difference.
        Assert.True(Value(after, "runbook_webhook_requests_total", "outcome=\"refused\"", "source=\"alertmanager\"") - Value(before, "runbook_webhook_requests_total", "outcome=\"refused\"", "source=\"alertmanager\"") >= 1, after);
        Assert.True(Value(after, "runbook_webhook_requests_total", "outcome=\"accepted\"", "source=\"alertmanager\"") - Value(before, "runbook_webhook_requests_total", "outcome=\"accepted\"", "source=\"alertmanager\"") >= 1, after);
        Assert.True(Value(after, "runbook_alerts_total", "outcome=\"started\"", "source=\"alertmanager\"") >= 1, after);

        // The run keeps when its alert fired, for the time to its first step and to its recovery.
        var runId = (await ServerFixture.ReadAsync(accepted))!["outcomes"]![0]!["run_id"]!.GetValue<string>();
        var input = JsonNode.Parse((await server.Store.GetRunAsync(runId, CancellationToken.None))!.Input!)!;
        Assert.Equal("alertmanager", input["alert"]!["source"]!.GetValue<string>());
        Assert.StartsWith("2026-12-06T03:00:00", input["alert"]!["fired_at"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_queue_gauges_show_work_no_worker_of_its_queue_has_taken_and_how_long_it_has_waited()
    {
        server.Write("elsewhere.yaml", "name: elsewhere\nsteps:\n  - id: far\n    action: log\n    queue: metered-elsewhere\n    with: { message: hi }\n");
        await server.StartAsync();
        using var op = server.Http(server.Operator);
        using var started = await op.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"elsewhere"}"""));
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);

        // The embedded worker serves "default" only: the step waits on its queue; each sample of the backlog is progress.
        var scrape = string.Empty;
        await server.WaitUntilAsync(
            async () => Value(scrape = await ScrapeAsync(), "runbook_queue_depth", "kind=\"step\"", "queue=\"metered-elsewhere\"") == 1,
            "the queue gauge to count the waiting step");
        Assert.True(Value(scrape, "runbook_queue_oldest_age_seconds", "kind=\"step\"", "queue=\"metered-elsewhere\"") >= 0, scrape);
        Assert.Contains("runbook_queue_oldest_age_seconds{", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_breaker_gauge_shows_each_declared_breaker_closed_then_open_after_a_failure()
    {
        server.Write("tripping.yaml", """
            name: tripping
            inputs:
              host: { type: string, required: true }
            guards:
              target: "${{ inputs.host }}"
              breaker: { failures: 1, window: 30m, open_for: 10m }
            steps:
              - id: fail
                action: shell
                with: { command: [/bin/false] }
            """);
        await server.StartAsync();
        using var op = server.Http(server.Operator);
        using var started = await op.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"tripping","inputs":{"host":"metered-web-7"}}"""));
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        var runId = (await ServerFixture.ReadAsync(started))!["run"]!["run_id"]!.GetValue<string>();
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "failed", "the run to fail");

        // The failed run trips the breaker; the next sample of the guards shows it open (2).
        var scrape = string.Empty;
        await server.WaitUntilAsync(
            async () => Value(scrape = await ScrapeAsync(), "runbook_guard_breaker", "target=\"metered-web-7\"", "runbook_workflow=\"tripping\"") == 2,
            "the breaker gauge to show the breaker open");
        Assert.Contains("runbook_guard_breaker{", scrape, StringComparison.Ordinal);
    }

    private async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(server.Url + "/metrics");
    }

    /// <summary>The sum of a metric's samples whose labels include all of <paramref name="labels"/> (0 when none).</summary>
    private static double Value(string exposition, string metric, params string[] labels) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && labels.All(x => l.Contains(x, StringComparison.Ordinal)))
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));

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
