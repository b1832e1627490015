using System.Net;
using System.Text.Json.Nodes;
using RunbookEngine.Alerts;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server.Tests;

public sealed class AlertTests : IAsyncLifetime
{
    private const string DiskAlert = """
        name: disk-alert
        description: Clean a disk that an alert says is full, after an on-call approval.
        inputs:
          host: { type: string, required: true, pattern: '^[a-z0-9.-]+$' }
          mount: { type: string, default: "/" }
        triggers:
          - source: alertmanager
            match: ["alertname = DiskFull", "severity =~ critical|page"]
            inputs:
              host: "${{ alert.labels.instance }}"
              mount: "${{ alert.labels.mountpoint }}"
            on_resolved: cancel
        steps:
          - id: approve
            approval: { approvers: ["group:sre-oncall"] }
          - id: clean
            action: log
            with: { message: "cleaning ${{ inputs.mount }} on ${{ inputs.host }}" }
        """;

    private readonly ServerFixture server = new();

    public async Task InitializeAsync()
    {
        server.Write("disk-alert.yaml", DiskAlert);
        await server.StartAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static string Notification(string status, string instance, string severity = "critical") => $$"""
        {
          "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "truncatedAlerts": 0, "status": "{{status}}",
          "receiver": "runbook", "groupLabels": {"alertname": "DiskFull"},
          "commonLabels": {"alertname": "DiskFull"}, "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
          "alerts": [
            {"status": "{{status}}", "labels": {"alertname": "DiskFull", "instance": "{{instance}}", "mountpoint": "/var", "severity": "{{severity}}"},
             "annotations": {"summary": "disk /var on {{instance}} is 97% full"},
             "startsAt": "2026-11-21T03:00:00Z", "endsAt": "{{(status == "resolved" ? "2026-11-21T03:20:00Z" : "0001-01-01T00:00:00Z")}}",
             "generatorURL": "http://prometheus/graph", "fingerprint": "fp-{{instance}}"},
            {"status": "{{status}}", "labels": {"alertname": "Watchdog"}, "annotations": {},
             "startsAt": "2026-11-21T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "fp-watchdog"}
          ]
        }
        """;

    private async Task<JsonNode> PostAsync(string body, HttpStatusCode expected = HttpStatusCode.Accepted, string? token = null, string hook = "alertmanager")
    {
        using var http = server.Http(token ?? server.Operator);
        using var response = await http.PostAsync("/hooks/" + hook, ServerFixture.JsonBody(body));
        var json = await ServerFixture.ReadAsync(response);
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {json}");
        return json!;
    }

    [Fact]
    public async Task A_firing_alert_starts_one_run_its_repeats_attach_and_its_resolution_cancels_the_waiting_run()
    {
        var first = await PostAsync(Notification("firing", "web-1"));
        var outcomes = first["outcomes"]!.AsArray();
        Assert.Equal(["started", "unmatched"], outcomes.Select(o => (string)o!["outcome"]!));
        var runId = (string)outcomes[0]!["run_id"]!;

        // Accepted means stored: the run is there the moment the 202 is.
        var run = (await server.Store.GetRunAsync(runId, CancellationToken.None))!;
        Assert.Equal("alert:alertmanager/DiskFull", run.CreatedBy);
        Assert.Equal("""{"host":"web-1","mount":"/var"}""", JsonNode.Parse(run.Input!)!["inputs"]!.ToJsonString());

        var repeat = await PostAsync(Notification("firing", "web-1"));
        Assert.Equal("attached", (string)repeat["outcomes"]![0]!["outcome"]!);
        Assert.Equal(runId, (string)repeat["outcomes"]![0]!["run_id"]!);
        var other = await PostAsync(Notification("firing", "web-2"));
        Assert.NotEqual(runId, (string)other["outcomes"]![0]!["run_id"]!);
        Assert.Equal(2, (await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "disk-alert" }, CancellationToken.None)).Count);

        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait for approval");
        var resolved = await PostAsync(Notification("resolved", "web-1"));
        Assert.Equal("cancelled", (string)resolved["outcomes"]![0]!["outcome"]!);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "cancelled", "the run to be cancelled");

        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        var created = JsonNode.Parse(events[0].Data!)!;
        Assert.Equal("fp-web-1", (string)created["trigger"]!["alert"]!["fingerprint"]!);
        Assert.Equal("runbook", (string)created["trigger"]!["payload"]!["receiver"]!);
        Assert.Equal(2, created["trigger"]!["payload"]!["alerts"]!.AsArray().Count);
        Assert.Contains(events, e => e.Kind == "alert.repeated");
        Assert.Contains(events, e => e.Kind == "alert.resolved" && JsonNode.Parse(e.Data!)!["action"]!.ToString() == "cancel");
        Assert.Equal("run.cancelled", events[^1].Kind);
        Assert.Null(TimelineChain.Verify(events));
    }

    [Fact]
    public async Task A_guard_blocks_a_second_alert_for_a_busy_target_records_why_and_is_reset_through_the_api_by_an_approver()
    {
        server.Write("guarded-disk.yaml", """
            name: guarded-disk
            inputs:
              host: { type: string }
            guards:
              target: "${{ inputs.host }}"
              max_live: 1
            triggers:
              - match: { alertname: DiskFull }
                inputs: { host: "${{ alert.labels.instance }}" }
            steps:
              - id: approve
                approval: { approvers: ["group:sre-oncall"] }
            """);
        JsonNode Guarded(JsonNode response) => response["outcomes"]!.AsArray().Single(o => (string?)o!["runbook"] == "guarded-disk")!;

        var first = Guarded(await PostAsync(Notification("firing", "web-1")));
        Assert.Equal("started", (string)first["outcome"]!);
        var runId = (string)first["run_id"]!;

        // Another episode on the same host (it started later) while the first run is live: refused and stored.
        var later = Notification("firing", "web-1").Replace("\"startsAt\": \"2026-11-21T03:00:00Z\"", "\"startsAt\": \"2026-11-21T04:00:00Z\"", StringComparison.Ordinal);
        var second = Guarded(await PostAsync(later));
        Assert.Equal("blocked", (string)second["outcome"]!);
        Assert.Equal($"1 live run for target 'web-1' (at most 1): {runId}", (string)second["reason"]!);
        var blockedId = (string)second["run_id"]!;
        Assert.Equal("blocked", await server.RunStatusAsync(blockedId));
        var events = await server.Store.GetTimelineAsync(blockedId, 0, 100, CancellationToken.None);
        Assert.Equal(["run.created", "guard.blocked"], events.Select(e => e.Kind));
        Assert.Equal("fp-web-1", (string)JsonNode.Parse(events[0].Data!)!["trigger"]!["alert"]!["fingerprint"]!); // the raw alert is kept
        Assert.Contains(server.Logs.Lines, l => l.Contains($"a guard blocked run {blockedId}", StringComparison.Ordinal));

        // A repeat of the blocked episode is decided again (its run kept no idempotency key), and blocked again.
        var repeat = Guarded(await PostAsync(later));
        Assert.Equal("blocked", (string)repeat["outcome"]!);
        Assert.NotEqual(blockedId, (string)repeat["run_id"]!);

        var list = await server.RemoteAsync(server.Viewer, "guards", "-o", "json");
        Assert.True(list.Code == 0, list.Err);
        var guard = Assert.Single(JsonNode.Parse(list.Out)!.AsArray())!;
        Assert.Equal("guarded-disk/web-1", (string)guard["key"]!);
        Assert.Equal([runId], guard["live_runs"]!.AsArray().Select(r => (string)r!));

        var byOperator = await server.RemoteAsync(server.Operator, "guards", "reset", "guarded-disk/web-1", "--reason", "try");
        Assert.Equal(1, byOperator.Code);
        Assert.Contains("this needs approver or admin", byOperator.Err, StringComparison.Ordinal);
        var byApprover = await server.RemoteAsync(server.Approver, "guards", "reset", "guarded-disk/web-1", "--reason", "host rebuilt", "-o", "json");
        Assert.True(byApprover.Code == 0, byApprover.Err);
        Assert.Equal("host rebuilt", (string)JsonNode.Parse(byApprover.Out)!["last_reset"]!["reason"]!);
        Assert.Equal("user:bob", (string)JsonNode.Parse(byApprover.Out)!["last_reset"]!["by"]!); // the token's identity
    }

    [Fact]
    public async Task An_alert_starts_a_csharp_script_runbook_whose_approval_is_given_through_the_remote_cli()
    {
        server.Write("disk-script.csx", """
            /*---
            name: disk-script
            inputs:
              host: { type: string, required: true }
            outputs:
              cleaned: the host cleaned
            triggers:
              - source: alertmanager
                match: { alertname: DiskFull }
                inputs: { host: "${{ alert.labels.instance }}" }
            ---*/
            var host = Input<string>("host");
            await Approval("approve", ["group:sre-oncall"], message: $"clean {host}?");
            await Log("clean", $"cleaning {host}");
            Output("cleaned", host);
            """);
        var outcome = (await PostAsync(Notification("firing", "web-9")))["outcomes"]!.AsArray()
            .Single(o => (string?)o!["runbook"] == "disk-script")!;
        Assert.Equal("started", (string)outcome["outcome"]!);
        var runId = (string)outcome["run_id"]!;
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the script run to wait for approval");

        var viewer = await server.RemoteAsync(server.Viewer, "approve", runId);
        Assert.Equal(1, viewer.Code);
        var approved = await server.RemoteAsync(server.Approver, "approve", runId, "-m", "go");
        Assert.True(approved.Code == 0, approved.Err);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "completed", "the script run to complete");

        var run = (await server.Store.GetRunAsync(runId, CancellationToken.None))!;
        Assert.Equal("""{"cleaned":"web-9"}""", run.Output);
        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "approval.granted" && e.Data!.Contains("user:bob", StringComparison.Ordinal));
    }

    private static string PagerDutyEvent(string type, string incident) => $$"""
        {"event":{"id":"evt-{{type}}-{{incident}}","event_type":"{{type}}","resource_type":"incident","occurred_at":"2026-11-21T03:05:00.169Z",
          "agent":{"id":"PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":{"name":"PagerDuty"},
          "data":{"id":"{{incident}}","type":"incident","self":"https://api.pagerduty.com/incidents/{{incident}}","html_url":"https://acme.pagerduty.com/incidents/{{incident}}",
            "number":2,"status":"{{(type == "incident.resolved" ? "resolved" : "triggered")}}","title":"Checkout latency über 2s",
            "service":{"id":"PF9KMXH","summary":"API Service","type":"service_reference"},
            "assignees":[{"id":"PTUXL6G","summary":"User 123","type":"user_reference"}],
            "escalation_policy":{"id":"PUS0KTE","summary":"Default","type":"escalation_policy_reference"},
            "teams":[{"id":"PFCVPS0","summary":"Engineering","type":"team_reference"}],
            "priority":{"id":"PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","resolve_reason":null} } }
        """;

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PagerDutyAsync(string body, string? signature)
    {
        using var http = server.Http(null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/pagerduty") { Content = ServerFixture.JsonBody(body) };
        if (signature is not null)
        {
            request.Headers.Add("X-PagerDuty-Signature", signature);
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, await ServerFixture.ReadAsync(response));
    }

    private static string Signed(string body, params string[] secrets) =>
        string.Join(",", secrets.Select(s => PagerDutyPayload.Sign(System.Text.Encoding.UTF8.GetBytes(body), s)));

    [Fact]
    public async Task A_signed_pagerduty_incident_starts_one_run_its_redelivery_attaches_and_its_resolution_cancels_it()
    {
        server.Write("pd-latency.yaml", """
            name: pd-latency
            inputs:
              incident: { type: string, required: true }
              service: { type: string, required: true }
            triggers:
              - source: pagerduty
                match: ["service = API Service", "urgency = high"]
                inputs: { incident: "${{ alert.labels.incident_id }}", service: "${{ alert.labels.service }}" }
                on_resolved: cancel
            steps:
              - id: approve
                approval: { approvers: ["group:sre-oncall"] }
              - id: note
                action: log
                with: { message: "handling ${{ inputs.incident }}" }
            """);
        var triggered = PagerDutyEvent("incident.triggered", "PGR0VU2");

        // Unsigned, wrongly signed, or signed over another body: 401, nothing stored.
        Assert.Equal(HttpStatusCode.Unauthorized, (await PagerDutyAsync(triggered, null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PagerDutyAsync(triggered, Signed(triggered, "not-the-secret"))).Status);
        var tampered = await PagerDutyAsync(triggered.Replace("\"urgency\":\"high\"", "\"urgency\":\"low\"", StringComparison.Ordinal), Signed(triggered, ServerFixture.PagerDutySecret));
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.Status);
        Assert.Contains("does not match the body", (string)tampered.Body!["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Empty(await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None));

        // During a rotation PagerDuty sends one signature per secret; one match is enough.
        var (status, body) = await PagerDutyAsync(triggered, Signed(triggered, "old-secret", ServerFixture.PagerDutySecret));
        Assert.True(status == HttpStatusCode.Accepted, body?.ToJsonString());
        var outcome = body!["outcomes"]!.AsArray().Single()!;
        Assert.Equal("started", (string)outcome["outcome"]!);
        var runId = (string)outcome["run_id"]!;
        var run = (await server.Store.GetRunAsync(runId, CancellationToken.None))!;
        Assert.Equal("alert:pagerduty/Checkout latency über 2s", run.CreatedBy);
        Assert.Equal("""{"incident":"PGR0VU2","service":"API Service"}""", JsonNode.Parse(run.Input!)!["inputs"]!.ToJsonString());

        var again = await PagerDutyAsync(triggered, Signed(triggered, ServerFixture.PagerDutySecret));
        Assert.Equal("attached", (string)again.Body!["outcomes"]![0]!["outcome"]!);
        var acknowledged = PagerDutyEvent("incident.acknowledged", "PGR0VU2");
        var ignored = await PagerDutyAsync(acknowledged, Signed(acknowledged, ServerFixture.PagerDutySecret));
        Assert.Equal(HttpStatusCode.Accepted, ignored.Status);
        Assert.Equal(0, (int)ignored.Body!["alerts"]!);

        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait for approval");
        var resolvedEvent = PagerDutyEvent("incident.resolved", "PGR0VU2");
        var resolved = await PagerDutyAsync(resolvedEvent, Signed(resolvedEvent, ServerFixture.PagerDutySecret));
        Assert.Equal("cancelled", (string)resolved.Body!["outcomes"]![0]!["outcome"]!);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "cancelled", "the run to be cancelled");
        Assert.Single(await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None));
        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        Assert.Equal("PGR0VU2", (string)JsonNode.Parse(events[0].Data!)!["trigger"]!["payload"]!["event"]!["data"]!["id"]!);
        Assert.Contains(events, e => e.Kind == "alert.repeated");
        Assert.Null(TimelineChain.Verify(events));
    }

    private static string AzureAlert(string condition) => $$"""
        {"schemaId":"azureMonitorCommonAlertSchema","data":{
          "essentials":{"alertId":"/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.AlertsManagement/alerts/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
            "alertRule":"HighCpu-web","severity":"Sev2","signalType":"Metric","monitorCondition":"{{condition}}","monitoringService":"Platform",
            "alertTargetIDs":["/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/shop-rg/providers/microsoft.compute/virtualmachines/web-3"],
            "configurationItems":["web-3"],"originAlertId":"origin-1","firedDateTime":"2026-11-21T03:10:00.1234567Z",
            "resolvedDateTime":{{(condition == "Resolved" ? "\"2026-11-21T03:30:00Z\"" : "null")}},"description":"CPU above 90%","essentialsVersion":"1.0","alertContextVersion":"1.0"},
          "alertContext":{"conditionType":"SingleResourceMultipleMetricCriteria"},
          "customProperties":{"team":"shop"} } }
        """;

    [Fact]
    public async Task An_azure_monitor_alert_with_the_token_in_its_url_starts_a_run_and_its_resolution_is_recorded_and_the_token_is_not_logged()
    {
        server.Write("azure-cpu.yaml", """
            name: azure-cpu
            inputs:
              vm: { type: string, required: true }
              group: { type: string, required: true }
            triggers:
              - source: azure-monitor
                match: ["alertname = HighCpu-web", "severity =~ Sev[0-2]", "team = shop"]
                inputs: { vm: "${{ alert.labels.resource }}", group: "${{ alert.labels.resource_group }}" }
            steps:
              - id: note
                action: log
                with: { message: "restart ${{ inputs.vm }} in ${{ inputs.group }}" }
            """);
        using var http = server.Http(null);
        using (var refused = await http.PostAsync("/hooks/azure-monitor?token=rbk_wrong", ServerFixture.JsonBody(AzureAlert("Fired"))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var fired = await http.PostAsync($"/hooks/azure-monitor?token={server.Operator}", ServerFixture.JsonBody(AzureAlert("Fired")));
        var body = await ServerFixture.ReadAsync(fired);
        Assert.True(fired.StatusCode == HttpStatusCode.Accepted, body?.ToJsonString());
        var outcome = body!["outcomes"]!.AsArray().Single()!;
        Assert.Equal("started", (string)outcome["outcome"]!);
        var runId = (string)outcome["run_id"]!;
        var run = (await server.Store.GetRunAsync(runId, CancellationToken.None))!;
        Assert.Equal("alert:azure-monitor/HighCpu-web", run.CreatedBy);
        Assert.Equal("""{"vm":"web-3","group":"shop-rg"}""", JsonNode.Parse(run.Input!)!["inputs"]!.ToJsonString());
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "completed", "the run to complete");

        using var resolved = await http.PostAsync($"/hooks/azure-monitor?token={server.Operator}", ServerFixture.JsonBody(AzureAlert("Resolved")));
        Assert.Equal("resolved", (string)(await ServerFixture.ReadAsync(resolved))!["outcomes"]![0]!["outcome"]!);
        Assert.Contains(await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None), e => e.Kind == "alert.resolved");

        using var wrongSchema = await http.PostAsync($"/hooks/azure-monitor?token={server.Operator}", ServerFixture.JsonBody("""{"schemaId":"Microsoft.Insights/activityLogs","data":{}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, wrongSchema.StatusCode);
        Assert.Contains("enable the common alert schema", (string)(await ServerFixture.ReadAsync(wrongSchema))!["error"]!["message"]!, StringComparison.Ordinal);

        Assert.NotEmpty(server.Logs.Lines);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(server.Operator, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bad_notifications_are_refused_with_the_reason_and_start_nothing()
    {
        var unauthenticated = await PostAsync(Notification("firing", "web-1"), HttpStatusCode.Unauthorized, token: "rbk_nope");
        Assert.Equal("unauthorized", (string)unauthenticated["error"]!["kind"]!);
        var viewer = await PostAsync(Notification("firing", "web-1"), HttpStatusCode.Forbidden, token: server.Viewer);
        Assert.Equal("forbidden", (string)viewer["error"]!["kind"]!);

        Assert.Contains("not valid JSON", (string)(await PostAsync("{\"alerts\": [", HttpStatusCode.BadRequest))["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Equal("Alertmanager webhook version '3' is not supported; version 4 is", (string)(await PostAsync("""{"version":"3","alerts":[]}""", HttpStatusCode.BadRequest))["error"]!["message"]!);
        Assert.Equal("alerts[0].labels must be an object of names to strings", (string)(await PostAsync("""{"version":"4","alerts":[{"status":"firing"}]}""", HttpStatusCode.BadRequest))["error"]!["message"]!);
        Assert.Equal("alerts[0].status must be firing or resolved, not 'burning'", (string)(await PostAsync("""{"version":"4","alerts":[{"status":"burning","labels":{}}]}""", HttpStatusCode.BadRequest))["error"]!["message"]!);
        Assert.Equal("alerts[0].startsAt 'yesterday' is not an RFC 3339 time", (string)(await PostAsync("""{"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"yesterday"}]}""", HttpStatusCode.BadRequest))["error"]!["message"]!);

        // A matching alert whose labels give an input the runbook refuses is reported, not started.
        var missing = await PostAsync(Notification("firing", string.Empty));
        Assert.Equal("invalid", (string)missing["outcomes"]![0]!["outcome"]!);
        Assert.Contains("disk-alert.yaml:", (string)missing["outcomes"]![0]!["reason"]!, StringComparison.Ordinal);
        Assert.Empty(await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None));

        // Accepted, so kept: the invalid alert and the unmatched Watchdog beside it are in the journal, and only
        // they (the refused requests above left nothing).
        var listed = await server.RemoteAsync(server.Viewer, "alerts", "-o", "json");
        Assert.True(listed.Code == 0, listed.Err);
        var alerts = JsonNode.Parse(listed.Out)!.AsArray();
        Assert.Equal(["Watchdog/unmatched", "DiskFull/invalid"], alerts.Select(a => $"{a!["alert"]}/{a["outcome"]}"));
        Assert.Equal("disk-alert", (string)alerts[1]!["runbook"]!);
        Assert.Equal((string)missing["outcomes"]![0]!["reason"]!, (string)alerts[1]!["reason"]!);
        Assert.Equal("critical", (string)alerts[1]!["labels"]!["severity"]!);
        var invalidOnly = await server.RemoteAsync(server.Viewer, "alerts", "--outcome", "invalid");
        Assert.True(invalidOnly.Code == 0, invalidOnly.Err);
        Assert.Contains("DiskFull", invalidOnly.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Watchdog", invalidOnly.Out, StringComparison.Ordinal);
        using var http = server.Http(server.Viewer);
        using var wrong = await http.GetAsync("/api/alerts?outcome=started");
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
    }

    [Fact]
    public async Task A_real_alertmanager_triggers_the_runbook_once_repeats_attach_and_the_resolution_is_recorded()
    {
        await using var am = await Alertmanager.StartAsync(server.Url, server.Operator);
        const string alert = """[{"labels": {"alertname": "DiskFull", "instance": "db-7", "mountpoint": "/data", "severity": "page"}, "annotations": {"summary": "disk full"}, "generatorURL": "http://prometheus/graph"}]""";
        await am.PostAsync(alert);

        string? runId = null;
        await server.WaitUntilAsync(
            async () => (runId = (await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "disk-alert" }, CancellationToken.None)).SingleOrDefault()?.RunId) is not null,
            "Alertmanager's notification to start the runbook");
        var run = (await server.Store.GetRunAsync(runId!, CancellationToken.None))!;
        Assert.Equal("alert:alertmanager/DiskFull", run.CreatedBy);
        Assert.Equal("""{"host":"db-7","mount":"/data"}""", JsonNode.Parse(run.Input!)!["inputs"]!.ToJsonString());

        // Prometheus re-sends a firing alert; Alertmanager re-notifies it every repeat_interval (1 s here).
        await am.PostAsync(alert);
        await server.WaitUntilAsync(async () => (await KindsAsync(runId!)).Contains("alert.repeated"), "a repeated notification", TimeSpan.FromSeconds(60));
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId!) == "waiting", "the run to wait for approval");

        // The approval completes the run; the resolution that follows is recorded in its timeline.
        var approved = await server.RemoteAsync(server.Approver, "approve", runId!);
        Assert.True(approved.Code == 0, approved.Err);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId!) == "completed", "the run to complete");
        var now = TimeProvider.System.GetUtcNow().AddSeconds(-1).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        await am.PostAsync(alert.Replace("\"generatorURL\"", $"\"endsAt\": \"{now}\", \"generatorURL\"", StringComparison.Ordinal));
        await server.WaitUntilAsync(async () => (await KindsAsync(runId!)).Contains("alert.resolved"), "Alertmanager's resolved notification", TimeSpan.FromSeconds(60));

        Assert.Single(await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "disk-alert" }, CancellationToken.None));
        var resolved = (await server.Store.GetTimelineAsync(runId!, 0, 1000, CancellationToken.None)).Last(e => e.Kind == "alert.resolved");
        Assert.Equal("record", JsonNode.Parse(resolved.Data!)!["action"]!.ToString());
        Assert.Equal("completed", await server.RunStatusAsync(runId!));
    }

    [Fact]
    public async Task A_grafana_notification_starts_runbooks_whose_triggers_name_grafana_or_no_source()
    {
        server.Write("grafana-memory.yaml", """
            name: grafana-memory
            inputs:
              zone: { type: string, required: true }
            triggers:
              - source: grafana
                match: { alertname: High memory usage }
                inputs: { zone: "${{ alert.labels.zone }}" }
            steps:
              - id: note
                action: log
                with: { message: "memory high in ${{ inputs.zone }}" }
            """);

        // The shape of Grafana's documented example: Alertmanager's alerts plus orgId, values and links.
        const string grafana = """
            {"receiver": "runbook", "status": "firing", "orgId": 1, "version": "1", "groupKey": "{}:{}", "truncatedAlerts": 0,
             "title": "[FIRING:1] High memory usage", "state": "alerting", "message": "...", "externalURL": "http://grafana:3000/",
             "groupLabels": {}, "commonLabels": {"alertname": "High memory usage"}, "commonAnnotations": {},
             "alerts": [{"status": "firing", "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
               "annotations": {"summary": "high memory in us-1"}, "startsAt": "2026-11-21T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": "http://grafana:3000/alerting/1afz29v7z/edit", "fingerprint": "c6eadffa33fcdf37",
               "silenceURL": "http://grafana:3000/alerting/silence/new", "dashboardURL": "", "panelURL": "", "values": {"B": 44.2, "C": 1}}]}
            """;
        var accepted = await PostAsync(grafana, hook: "grafana");
        var outcome = accepted["outcomes"]!.AsArray().Single()!;
        Assert.Equal("started", (string)outcome["outcome"]!);
        Assert.Equal("grafana-memory", (string)outcome["runbook"]!);
        var run = (await server.Store.GetRunAsync((string)outcome["run_id"]!, CancellationToken.None))!;
        Assert.Equal("alert:grafana/High memory usage", run.CreatedBy);

        // The same alert through the Alertmanager hook does not match a trigger restricted to grafana.
        var viaAlertmanager = await PostAsync(grafana.Replace("\"version\": \"1\"", "\"version\": \"4\"", StringComparison.Ordinal));
        Assert.Equal("unmatched", (string)viaAlertmanager["outcomes"]![0]!["outcome"]!);
        Assert.Equal("Grafana webhook version '4' is not supported; version 1 is", (string)(await PostAsync(grafana.Replace("\"version\": \"1\"", "\"version\": \"4\"", StringComparison.Ordinal), HttpStatusCode.BadRequest, hook: "grafana"))["error"]!["message"]!);
    }

    private async Task<IReadOnlyList<string>> KindsAsync(string runId) =>
        [.. (await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None)).Select(e => e.Kind)];
}
