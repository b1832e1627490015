using System.Net;
using System.Text.Json.Nodes;
using RunbookEngine.Testing;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server.Tests;

/// <summary>
/// The approval gate the engine adds to a run an alert started: before the first change under
/// <c>mode: approval</c>, before a destructive step otherwise, none with <c>destructive: allow</c>.
/// The remediated service is a real HTTP server on 127.0.0.1 that records every request.
/// </summary>
public sealed class GateTests : IAsyncLifetime
{
    private readonly ServerFixture server = new();
    private readonly LocalHttpServer service = new((_, _) => (200, """{"ok":true}""", "application/json"));

    public async Task InitializeAsync() => await server.StartAsync();

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        await service.DisposeAsync();
    }

    private static string Alert(string name, string instance) => $$"""
        {"version": "4", "groupKey": "{}:{alertname=\"{{name}}\"}", "truncatedAlerts": 0, "status": "firing", "receiver": "runbook",
         "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
         "alerts": [{"status": "firing", "labels": {"alertname": "{{name}}", "instance": "{{instance}}"}, "annotations": {},
                     "startsAt": "2026-11-21T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "fp-{{name}}-{{instance}}"}]}
        """;

    private async Task<string> FireAsync(string runbook, string name, string instance)
    {
        using var http = server.Http(server.Operator);
        using var response = await http.PostAsync("/hooks/alertmanager", ServerFixture.JsonBody(Alert(name, instance)));
        var json = await ServerFixture.ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, json?.ToJsonString());
        var outcome = json!["outcomes"]!.AsArray().Single(o => (string?)o!["runbook"] == runbook)!;
        Assert.Equal("started", (string)outcome["outcome"]!);
        return (string)outcome["run_id"]!;
    }

    private async Task<IReadOnlyList<TimelineEvent>> TimelineAsync(string runId) => await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);

    private string[] Calls() => [.. service.Requests.Select(r => $"{r.Method} {r.Path}")];

    [Fact]
    public async Task Mode_approval_lets_reads_run_then_waits_before_the_first_change_until_an_approver_lets_it_go_on()
    {
        server.Write("restart-api.yaml", $$$"""
            name: restart-api
            inputs:
              host: { type: string }
            triggers:
              - match: { alertname: ApiDown }
                inputs: { host: "${{ alert.labels.instance }}" }
                mode: approval
                approval: { approvers: [group:sre-oncall], timeout: 1h }
            steps:
              - id: look
                action: http
                with: { url: "{{{service.Url}}}/status" }
              - id: restart
                action: http
                with: { url: "{{{service.Url}}}/restart", method: POST }
              - id: flush
                action: http
                with: { url: "{{{service.Url}}}/cache", method: DELETE }
            """);
        var runId = await FireAsync("restart-api", "ApiDown", "api-1");
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait at its gate");

        // The read ran; nothing that changes anything did.
        Assert.Equal(["GET /status"], Calls());
        var requested = (await TimelineAsync(runId)).Single(e => e.Kind == "approval.requested");
        var data = JsonNode.Parse(requested.Data!)!;
        Assert.Equal("restart/approval", (string)data["step"]!);
        Assert.Equal("approval", (string)data["gate"]!);
        Assert.Contains("mode: approval", (string)data["message"]!, StringComparison.Ordinal);
        Assert.Equal(["group:sre-oncall"], data["approvers"]!.AsArray().Select(a => (string)a!));

        var viewer = await server.RemoteAsync(server.Viewer, "approve", runId);
        Assert.Equal(1, viewer.Code);
        var status = await server.RemoteAsync(server.Viewer, "status", runId);
        Assert.True(status.Code == 0, status.Err);
        Assert.Contains("restart/approval", status.Out, StringComparison.Ordinal);

        var approved = await server.RemoteAsync(server.Approver, "approve", runId, "-m", "api-1 is really down");
        Assert.True(approved.Code == 0, approved.Err);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "completed", "the run to complete");

        // One approval lets the whole run go on: the later destructive step needs no second one.
        Assert.Equal(["GET /status", "POST /restart", "DELETE /cache"], Calls());
        var events = await TimelineAsync(runId);
        Assert.Single(events, e => e.Kind == "approval.requested");
        Assert.Contains(events, e => e.Kind == "approval.granted" && (string?)JsonNode.Parse(e.Data!)!["by"] == "user:bob");
        Assert.Null(TimelineChain.Verify(events));
    }

    [Fact]
    public async Task A_live_trigger_waits_before_a_destructive_step_only_and_a_rejection_keeps_it_from_running()
    {
        server.Write("flush-cache.yaml", $$$"""
            name: flush-cache
            inputs:
              host: { type: string }
            triggers:
              - match: { alertname: CacheStale }
                inputs: { host: "${{ alert.labels.instance }}" }
                approval: { approvers: [group:sre-oncall] }
            steps:
              - id: warm
                action: http
                with: { url: "{{{service.Url}}}/warm", method: POST }
              - id: flush
                action: http
                with: { url: "{{{service.Url}}}/cache", method: DELETE }
            """);
        var runId = await FireAsync("flush-cache", "CacheStale", "cache-1");
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait before the destructive step");
        Assert.Equal(["POST /warm"], Calls());
        var data = JsonNode.Parse((await TimelineAsync(runId)).Single(e => e.Kind == "approval.requested").Data!)!;
        Assert.Equal(("flush/approval", "destructive"), ((string)data["step"]!, (string)data["gate"]!));

        var rejected = await server.RemoteAsync(server.Approver, "reject", runId, "-m", "not during the sale");
        Assert.True(rejected.Code == 0, rejected.Err);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "failed", "the run to fail");
        Assert.Equal(["POST /warm"], Calls());
        var run = (await server.Store.GetRunAsync(runId, CancellationToken.None))!;
        Assert.Equal("Rejected", run.ErrorKind);
    }

    [Fact]
    public async Task Destructive_allow_runs_unattended_and_a_destructive_step_decided_at_run_time_fails_when_no_one_may_approve_it()
    {
        server.Write("prune.yaml", $$$"""
            name: prune
            inputs:
              host: { type: string }
            triggers:
              - match: { alertname: Prune }
                inputs: { host: "${{ alert.labels.instance }}" }
                destructive: allow
            steps:
              - id: prune
                action: http
                with: { url: "{{{service.Url}}}/old", method: DELETE }
            """);
        var allowed = await FireAsync("prune", "Prune", "p-1");
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(allowed) == "completed", "the unattended run to complete");
        Assert.Equal(["DELETE /old"], Calls());
        Assert.DoesNotContain(await TimelineAsync(allowed), e => e.Kind == "approval.requested");

        // The method comes from an input: validation cannot see it is destructive, the run does, and refuses.
        server.Write("dynamic.yaml", $$$"""
            name: dynamic
            inputs:
              verb: { type: string, default: DELETE }
            triggers:
              - match: { alertname: Dynamic }
            steps:
              - id: act
                action: http
                with: { url: "{{{service.Url}}}/dynamic", method: "${{ inputs.verb }}" }
            """);
        var refused = await FireAsync("dynamic", "Dynamic", "d-1");
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(refused) == "failed", "the run to fail");
        var run = (await server.Store.GetRunAsync(refused, CancellationToken.None))!;
        Assert.Equal("ApprovalRequired", run.ErrorKind);
        Assert.Contains("names no approvers", run.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(["DELETE /old"], Calls()); // the dynamic DELETE was never sent

        // A person starting the same runbook is not gated: the rule is about runs nobody watches.
        var manual = await server.RemoteAsync(server.Operator, "run", "dynamic", "-o", "json");
        Assert.True(manual.Code == 0, manual.Err + manual.Out);
        Assert.Equal(["DELETE /old", "DELETE /dynamic"], Calls());
    }
}
