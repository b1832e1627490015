using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Tests;

/// <summary>Retries inside one attempt (Polly): only what is safe to send again, on the action's clock.</summary>
public sealed class TransientTests
{
    private readonly ManualTimeProvider time = new();

    private static ActionRequest Request(JsonObject with) => new("run_1", "step", 1, "run_1/2/1", "run_1/2", with, NullLogger.Instance);

    [Fact]
    public async Task A_read_answered_503_is_tried_again_within_the_attempt()
    {
        var calls = 0;
        await using var api = new LocalHttpServer((_, _) => ++calls == 1 ? (503, "busy", "text/plain") : (200, "{\"ok\":true}", "application/json"));
        var retry = time.WaitForTimerAsync(TimeSpan.FromMilliseconds(500));
        var execution = new HttpAction(time).ExecuteAsync(Request(new JsonObject { ["url"] = $"{api.Url}/health" }), CancellationToken.None);
        await retry;
        time.Advance(TimeSpan.FromMilliseconds(500));

        var result = await execution;
        Assert.Equal(200, result["status"]!.GetValue<int>());
        Assert.Equal(2, api.Requests.Count);
        Assert.All(api.Requests, r => Assert.Equal("run_1/2/1", r.Headers["Idempotency-Key"]));
    }

    [Fact]
    public async Task A_post_or_a_read_that_expects_statuses_is_answered_as_it_comes()
    {
        await using var api = new LocalHttpServer((_, _) => (503, "busy", "text/plain"));
        var post = await Assert.ThrowsAsync<StepException>(() => new HttpAction(time).ExecuteAsync(Request(new JsonObject { ["url"] = $"{api.Url}/restart", ["method"] = "POST" }), CancellationToken.None));
        Assert.Equal("HttpStatus", post.Kind);
        Assert.Single(api.Requests);

        var probe = await new HttpAction(time).ExecuteAsync(Request(new JsonObject { ["url"] = $"{api.Url}/health", ["expect_status"] = new JsonArray(200, 503) }), CancellationToken.None);
        Assert.Equal(503, probe["status"]!.GetValue<int>());
        Assert.Equal(2, api.Requests.Count);
    }

    [Fact]
    public async Task A_throttled_query_is_tried_again_after_growing_waits()
    {
        var calls = 0;
        await using var prometheus = new LocalHttpServer((_, _) => ++calls < 3
            ? (429, "{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"too many queries\"}", "application/json")
            : (200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,\"7\"]}}", "application/json"));
        var first = time.WaitForTimerAsync(TimeSpan.FromMilliseconds(500));
        var query = new PrometheusAction(time).ExecuteAsync(Request(new JsonObject { ["url"] = prometheus.Url, ["query"] = "up" }), CancellationToken.None);
        await first;
        var second = time.WaitForTimerAsync(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromMilliseconds(500));
        await second;
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(7, (await query)["value"]!.GetValue<double>());
        Assert.Equal(3, prometheus.Requests.Count);
    }

    [Fact]
    public async Task A_connection_that_cannot_be_made_is_tried_three_times_then_fails_the_attempt()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop(); // nothing listens there now: every connection is refused

        var first = time.WaitForTimerAsync(TimeSpan.FromMilliseconds(500));
        var post = new HttpAction(time).ExecuteAsync(Request(new JsonObject { ["url"] = $"http://127.0.0.1:{port}/restart", ["method"] = "POST" }), CancellationToken.None);
        await first;
        var second = time.WaitForTimerAsync(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromMilliseconds(500));
        await second;
        time.Advance(TimeSpan.FromSeconds(1));

        var ex = await Assert.ThrowsAsync<StepException>(() => post);
        Assert.Equal("HttpError", ex.Kind);
        Assert.False(ex.NonRetryable); // the step's own retry policy decides what happens next
    }
}
