using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>A node exporter stand-in on 127.0.0.1 whose metric the tests set, and a real Prometheus scraping it every second.</summary>
public sealed class PrometheusFixture : IAsyncLifetime
{
    private TaskCompletionSource scraped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LocalHttpServer Node { get; private set; } = null!;

    public PrometheusServer Prometheus { get; private set; } = null!;

    public Dictionary<string, double> Disk { get; } = new() { ["web-1"] = 97, ["web-2"] = 97, ["web-3"] = 97 };

    public async Task InitializeAsync()
    {
        Node = new LocalHttpServer((request, _) =>
        {
            if (request.Url!.AbsolutePath != "/metrics")
            {
                return (200, "{}", "application/json");
            }

            string text;
            lock (Disk)
            {
                text = "# TYPE disk_used_percent gauge\n" + string.Concat(Disk.Select(d => $"disk_used_percent{{host=\"{d.Key}\"}} {d.Value.ToString(CultureInfo.InvariantCulture)}\n"));
            }

            Interlocked.Exchange(ref scraped, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return (200, text, "text/plain; version=0.0.4");
        });
        Prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{Node.Port}");
        await WaitForValueAsync("web-1", 97);
    }

    public async Task DisposeAsync()
    {
        await Prometheus.DisposeAsync();
        await Node.DisposeAsync();
    }

    /// <summary>Sets a host's disk usage and waits until Prometheus has scraped it and answers queries with it.</summary>
    public async Task SetAsync(string host, double value)
    {
        lock (Disk)
        {
            Disk[host] = value;
        }

        await WaitForValueAsync(host, value);
    }

    private async Task WaitForValueAsync(string host, double value)
    {
        // Each scrape is an event (the node serves /metrics); after one that carried the value, the query sees it
        // once the sample is appended: a few queries at most.
        var query = new PrometheusAction();
        for (var i = 0; i < 60; i++)
        {
            await Volatile.Read(ref scraped).Task.WaitAsync(TimeSpan.FromSeconds(30));
            var with = new JsonObject { ["url"] = Prometheus.Url, ["query"] = $"disk_used_percent{{host=\"{host}\"}}" };
            var result = await query.ExecuteAsync(new ActionRequest("test", "probe", 1, "k", "k", with, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance), CancellationToken.None);
            if (result["value"] is JsonValue v && v.TryGetValue<double>(out var d) && d == value)
            {
                return;
            }
        }

        throw new TimeoutException($"Prometheus never reported disk_used_percent{{host=\"{host}\"}} = {value}");
    }
}

/// <summary>The prometheus action and a step's verify: against a real Prometheus (Debian's package).</summary>
public sealed class VerifyTests(PrometheusFixture fixture) : IClassFixture<PrometheusFixture>, IAsyncLifetime
{
    private RunbookTestHost host = null!;

    public async Task InitializeAsync() => host = await RunbookTestHost.CreateAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private string Runbook(string timeout = "1m") => $$$"""
        name: clean-and-verify
        inputs:
          host: { type: string }
        steps:
          - id: clean
            action: http
            with: { url: "{{{fixture.Node.Url}}}/clean/${{ inputs.host }}", method: POST }
            verify:
              action: prometheus
              with:
                url: {{{fixture.Prometheus.Url}}}
                query: 'disk_used_percent{host="${{ inputs.host }}"}'
              condition: "${{ result.value < 90 }}"
              interval: 5s
              timeout: {{{timeout}}}
          - id: after
            action: log
            with: { message: "verified" }
        """;

    [Fact]
    public async Task A_step_is_verified_by_polling_prometheus_until_the_condition_holds()
    {
        var runId = await host.StartAsync(Runbook(), new JsonObject { ["host"] = "web-1" });
        await host.DrainAsync();

        // The clean request went out; the first poll saw 97% and the run waits for the next poll, holding nothing.
        Assert.Contains(fixture.Node.Requests, r => r.Method == "POST" && r.Path == "/clean/web-1");
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(runId)).Status);
        var firstPoll = (await host.HistoryAsync(runId)).Steps.Single(s => s.Name == "clean/verify#1");
        Assert.Equal(97, JsonNode.Parse(firstPoll.Output!)!["value"]!.GetValue<double>());

        await fixture.SetAsync("web-1", 41);
        host.Time.Advance(TimeSpan.FromSeconds(5));
        await host.DrainAsync();

        var run = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        var verified = (await host.TimelineAsync(runId)).Single(e => e.Kind == "verify.passed");
        var data = JsonNode.Parse(verified.Data!)!;
        Assert.Equal(2, data["polls"]!.GetValue<int>());
        Assert.Equal(41, data["result"]!["value"]!.GetValue<double>());
        Assert.Equal("web-1", data["result"]!["series"]![0]!["labels"]!["host"]!.GetValue<string>());
        var kinds = (await host.TimelineAsync(runId)).Select(e => e.Kind).ToList();
        Assert.True(kinds.IndexOf("verify.passed") < kinds.LastIndexOf("step.started"), "the next step starts only after the verify passed");
    }

    [Fact]
    public async Task A_condition_that_never_holds_fails_the_step_with_VerifyFailed_after_its_timeout()
    {
        var runId = await host.StartAsync(Runbook(timeout: "12s"), new JsonObject { ["host"] = "web-2" });
        for (var i = 0; i < 10 && !(await host.RunAsync(runId)).Status.IsTerminal(); i++)
        {
            await host.DrainAsync();
            host.Time.Advance(TimeSpan.FromSeconds(5));
        }

        var run = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("VerifyFailed", run.ErrorKind);
        Assert.Equal("Step 'clean' failed after 1 attempt(s): VerifyFailed: ${{ result.value < 90 }} did not hold within 12s after the step (3 polls of prometheus)", run.ErrorMessage);
        Assert.Contains(await host.TimelineAsync(runId), e => e.Kind == "verify.failed");
        Assert.DoesNotContain((await host.HistoryAsync(runId)).Steps, s => s.Name == "after");
    }

    [Fact]
    public async Task A_dry_run_sends_no_change_but_its_plan_shows_the_current_value_and_the_verify()
    {
        var before = fixture.Node.Requests.Count(r => r.Method == "POST");
        var runId = await host.StartAsync(Runbook(), new JsonObject { ["host"] = "web-3" }, dryRun: true);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(runId)).Status);
        Assert.Equal(before, fixture.Node.Requests.Count(r => r.Method == "POST"));
        var plan = Service.LocalRunbookService.Plan(await host.HistoryAsync(runId)).ToList();
        Assert.Contains(plan, p => p.Step == "clean" && p.Plan.StartsWith("would send POST ", StringComparison.Ordinal));
        Assert.Contains(plan, p => p.Plan == $"would query {fixture.Prometheus.Url}: disk_used_percent{{host=\"web-3\"}}");
        Assert.Contains(plan, p => p.Step == "clean" && p.Plan == "would then poll prometheus every 5s for up to 1m until ${{ result.value < 90 }}");
        var queryPlan = (await host.HistoryAsync(runId)).Steps.Single(s => s.Name == "clean/verify");
        Assert.Equal(97, JsonNode.Parse(queryPlan.Output!)!["details"]!["current"]!["value"]!.GetValue<double>());
    }

    [Fact]
    public async Task A_bad_query_is_a_clear_error_that_is_not_retried()
    {
        var action = new PrometheusAction();
        var request = new ActionRequest("r", "s", 1, "k", "k", new JsonObject { ["url"] = fixture.Prometheus.Url, ["query"] = "sum(" }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var error = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(request, CancellationToken.None));
        Assert.Equal("PrometheusError", error.Kind);
        Assert.True(error.NonRetryable);
        Assert.StartsWith("query 'sum(' failed: bad_data: ", error.Message, StringComparison.Ordinal);

        var scalar = await action.ExecuteAsync(request with { With = new JsonObject { ["url"] = fixture.Prometheus.Url, ["query"] = "scalar(sum(disk_used_percent)) * 0 + 7" } }, CancellationToken.None);
        Assert.Equal("scalar", scalar["result_type"]!.GetValue<string>());
        Assert.Equal(7, scalar["value"]!.GetValue<double>());

        var none = await action.ExecuteAsync(request with { With = new JsonObject { ["url"] = fixture.Prometheus.Url, ["query"] = "disk_used_percent{host=\"nope\"}" } }, CancellationToken.None);
        Assert.Equal(0, none["count"]!.GetValue<int>());
        Assert.Null(none["value"]);

        var closed = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(request with { With = new JsonObject { ["url"] = "http://127.0.0.1:1", ["query"] = "up" } }, CancellationToken.None));
        Assert.Equal("PrometheusUnreachable", closed.Kind);
        Assert.False(closed.NonRetryable);
    }
}
