using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server.Tests;

/// <summary>
/// Overload: with every webhook slot taken, a delivery is answered 429 with Retry-After before its body is read
/// and stores nothing, while the delivery holding the slot is stored and answered 202 when it completes.
/// </summary>
public sealed class OverloadTests : IAsyncLifetime
{
    private readonly ServerFixture server = new();

    public async Task InitializeAsync()
    {
        server.Write("overload.yaml", """
            name: overload
            inputs:
              host: { type: string }
            triggers:
              - match: { alertname: Busy }
                inputs: { host: "${{ alert.labels.instance }}" }
            steps:
              - id: note
                action: log
                with: { message: "busy ${{ inputs.host }}" }
            """);
        await server.StartAsync(webhookSlots: 1, webhookQueue: 0);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static string Alert(string instance) => $$"""
        {"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Busy","instance":"{{instance}}"},"annotations":{},
         "startsAt":"2026-11-21T03:00:00Z","fingerprint":"fp-{{instance}}"}]}
        """;

    /// <summary>A body sent in two parts: the second only when the test releases it, so the request holds its slot.</summary>
    private sealed class HeldContent(string json) : HttpContent
    {
        private readonly byte[] bytes = Encoding.UTF8.GetBytes(json);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, 10));
            await stream.FlushAsync();
            await Release.Task;
            await stream.WriteAsync(bytes.AsMemory(10));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false; // chunked: the server starts on the headers
        }
    }

    private async Task<JsonNode> WebhooksAsync()
    {
        using var http = server.Http(null);
        return (await ServerFixture.ReadAsync(await http.GetAsync("/readyz")))!["webhooks"]!;
    }

    [Fact]
    public async Task A_delivery_beyond_the_limit_is_shed_with_429_and_retry_after_and_the_one_holding_the_slot_is_stored()
    {
        using var http = server.Http(server.Operator);
        var held = new HeldContent(Alert("held-1"));
        held.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var holding = http.PostAsync("/hooks/alertmanager", held);

        // /readyz shows the slot taken once the server has admitted the held delivery (bounded: the server answers
        // each readiness request at once; this loop ends as soon as the held request is in).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((int)(await WebhooksAsync())["in_flight"]! != 1)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the held delivery was never admitted");
        }

        using (var shed = await http.PostAsync("/hooks/alertmanager", ServerFixture.JsonBody(Alert("shed-1"))))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, shed.StatusCode);
            Assert.Equal("1", shed.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var error = (await ServerFixture.ReadAsync(shed))!["error"]!;
            Assert.Equal("overloaded", (string)error["kind"]!);
            Assert.Contains("nothing from this request was stored", (string)error["message"]!, StringComparison.Ordinal);
        }

        Assert.Empty(await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None));
        var stats = await WebhooksAsync();
        Assert.Equal((1, 0, 1L), ((int)stats["in_flight"]!, (int)stats["queue_limit"]!, (long)stats["shed"]!));

        // The held delivery completes: accepted, and its run is in the store when the 202 arrives.
        held.Release.SetResult();
        using var accepted = await holding;
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var runId = (string)(await ServerFixture.ReadAsync(accepted))!["outcomes"]![0]!["run_id"]!;
        Assert.NotNull(await server.Store.GetRunAsync(runId, CancellationToken.None));

        // The sender's retry of the shed delivery is accepted now that the slot is free.
        using var retried = await http.PostAsync("/hooks/alertmanager", ServerFixture.JsonBody(Alert("shed-1")));
        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.Equal(2, (await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "overload" }, CancellationToken.None)).Count);
    }
}
