using System.Diagnostics;
using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Cli.Tests;

/// <summary>
/// <c>runbook drill run --live</c> as a game day is run: a real <c>runbook serve</c> process, its webhook, a target
/// stand-in on 127.0.0.1 whose restart endpoint the runbook really calls, and a real Prometheus scraping the
/// stand-in's error gauge for the drill's stop condition.
/// </summary>
public sealed class LiveDrillTests : IAsyncLifetime
{
    private readonly CliFixture cli = new();
    private LocalHttpServer target = null!;
    private PrometheusServer prometheus = null!;
    private Process? server;
    private string url = string.Empty;
    private string token = string.Empty;
    private volatile int errors;
    private TaskCompletionSource scraped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task InitializeAsync()
    {
        target = new LocalHttpServer((request, _) => request.Url!.AbsolutePath switch
        {
            "/metrics" => Scraped((200, $"# TYPE drill_errors gauge\ndrill_errors {errors}\n", "text/plain; version=0.0.4")),
            "/restart" => (200, """{"restarted":true}""", "application/json"),
            "/drain" or "/undrain" => (200, "{}", "application/json"),
            _ => (404, "{}", "application/json"),
        });
        prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{target.Port}");
        cli.Write("live-restart.yaml", $$"""
            name: live-restart
            triggers:
              - source: alertmanager
                match: ["alertname = ApiDown"]
            steps:
              - id: restart
                action: http
                with: { method: POST, url: "{{target.Url}}/restart", expect_status: [200] }
            """);
        cli.Write("live-any-source.yaml", $$"""
            name: live-any-source
            triggers:
              - { source: grafana, match: ["alertname = CheckoutDown", "team = shop"] }
              - { source: pagerduty, match: ["alertname = CheckoutDown", "service = checkout"] }
              - { source: azure-monitor, match: ["alertname = CheckoutDown", "env = prod"] }
            steps:
              - id: restart
                action: http
                with: { method: POST, url: "{{target.Url}}/restart", expect_status: [200] }
            """);
        cli.Write("live-partial.yaml", $$"""
            name: live-partial
            triggers:
              - source: alertmanager
                match: ["alertname = DiskFull"]
            steps:
              - id: measure
                action: http
                with: { method: GET, url: "{{target.Url}}/measure", expect_status: [200] }
              - id: clean
                action: shell
                retry: { max_attempts: 3, initial_interval: 100ms }
                with: { command: [touch, "{{Path.Combine(cli.Directory, "cleaned")}}"] }
              - id: restart
                action: http
                with: { method: POST, url: "{{target.Url}}/restart", expect_status: [200] }
            """);
        cli.Write("live-gated.yaml", $$"""
            name: live-gated
            triggers:
              - source: alertmanager
                match: ["alertname = ApiSlow"]
            steps:
              - id: drain
                action: http
                with: { method: POST, url: "{{target.Url}}/drain", expect_status: [200] }
                compensate:
                  action: http
                  with: { method: POST, url: "{{target.Url}}/undrain", expect_status: [200] }
              - id: approve
                approval: { approvers: ["group:sre-oncall"] }
              - id: report
                action: log
                with: { message: approved }
            """);
        var tokens = Path.Combine(cli.Directory, "tokens.yaml");
        var (created, made, err) = await cli.RunProcessAsync("ops", string.Empty, "token", "create", "gameday", "--role", "operator", "--tokens", tokens);
        Assert.True(created == 0, err);
        token = made.Trim();
        server = cli.Start("ops", string.Empty, "serve", "--urls", "http://127.0.0.1:0", "--tokens", tokens);
        var banner = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        url = System.Text.RegularExpressions.Regex.Match(banner ?? string.Empty, @"http://127\.0\.0\.1:\d+").Value;
        Assert.True(url.Length > 0, banner);
    }

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            server.Dispose();
        }

        await prometheus.DisposeAsync();
        await target.DisposeAsync();
        cli.Dispose();
    }

    [Fact]
    public async Task A_live_drill_sends_its_alert_through_the_webhook_runs_the_action_for_real_and_marks_the_run_as_a_drill()
    {
        var drill = await DrillAsync("api-down-live.drill.yaml", """
            drill: api-down-live
            runbook: live-restart
            alerts:
              - { name: ApiDown, labels: { service: api } }
            live:
              prometheus: PROM
              poll: 200ms
              stop_conditions:
                - { name: error storm, promql: "drill_errors > 100" }
            expect: { outcome: completed, alert: started, steps_run: [restart], mttd: 1m, mttr: 1m }
            """);

        var (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "drill", "run", drill, "--live");

        Assert.True(code == 0, err + output);
        Assert.Contains("live drill api-down-live on " + url, err, StringComparison.Ordinal);
        Assert.Matches(@"T\+\S+ ApiDown fires: started \(live-restart\) run run_", err);
        Assert.Contains("pass  stop conditions: 1 condition(s) checked every 200ms, none held", output, StringComparison.Ordinal);
        Assert.Contains("pass  steps_run: restart: ran", output, StringComparison.Ordinal);
        Assert.Contains("report kept as drill report 1", err, StringComparison.Ordinal);

        // The action ran for real, against the stand-in.
        Assert.Contains(target.Requests, r => r.Method == "POST" && r.Path == "/restart");

        // Marked as the drill's everywhere it is listed: the run, its alert's labels, the kept report.
        (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "runs", "-o", "json");
        Assert.True(code == 0, err);
        var run = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(("api-down-live", "completed", "alert:alertmanager/ApiDown"), (run["drill"]!.GetValue<string>(), run["status"]!.GetValue<string>(), run["started_by"]!.GetValue<string>()));
        (_, output, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "runs");
        Assert.Contains("drill api-down-live", output, StringComparison.Ordinal);
        (_, output, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "timeline", run["run_id"]!.GetValue<string>(), "-o", "json");
        var created = JsonNode.Parse(output)!["events"]!.AsArray().First(e => e!["kind"]!.GetValue<string>() == "run.created")!;
        Assert.Equal("api-down-live", created["data"]!["drill"]!.GetValue<string>());
        Assert.Equal("api-down-live", created["data"]!["trigger"]!["alert"]!["labels"]!["runbook_drill"]!.GetValue<string>());
        (_, output, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "drill", "list", "-o", "json");
        var kept = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(("live", true, "user:gameday"), (kept["mode"]!.GetValue<string>(), kept["passed"]!.GetValue<bool>(), kept["by"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_stop_condition_that_starts_to_hold_cancels_the_drills_run_and_fails_it_and_a_breach_before_the_start_sends_nothing()
    {
        // Prometheus must have seen the calm gauge, so that the stop condition is checked on data.
        await UntilScrapedAsync("drill_errors == 0");
        var drill = await DrillAsync("api-slow-live.drill.yaml", """
            drill: api-slow-live
            runbook: live-gated
            alerts:
              - { name: ApiSlow }
            live:
              prometheus: PROM
              poll: 200ms
              timeout: 5m
              stop_conditions:
                - { name: error storm, promql: "drill_errors > 100" }
            expect: { outcome: completed }
            """);

        using var gameDay = cli.Start("ignored", string.Empty, "--server", url, "--token", token, "drill", "run", drill, "--live");
        var stdout = gameDay.StandardOutput.ReadToEndAsync();
        var lines = new List<string>();
        while (await gameDay.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
        {
            lines.Add(line);
            if (line.Contains("ApiSlow fires: started", StringComparison.Ordinal))
            {
                break;
            }
        }

        Assert.Contains(lines, l => l.Contains("ApiSlow fires: started (live-gated)", StringComparison.Ordinal));
        errors = 500; // the target starts failing while the run waits for its approval
        var rest = await gameDay.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await gameDay.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var output = await stdout;

        Assert.Equal(1, gameDay.ExitCode);
        Assert.Contains("stop condition: 'error storm' holds (value 500); cancelling the drill's runs", rest, StringComparison.Ordinal);
        Assert.Contains("FAIL  stop condition: error storm: 'error storm' holds (value 500) at T+", output, StringComparison.Ordinal);
        Assert.Contains("FAIL  outcome: cancelled", output, StringComparison.Ordinal);
        var (code, runs, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "runs", "-o", "json");
        Assert.True(code == 0, err);
        var run = Assert.Single(JsonNode.Parse(runs)!.AsArray())!;
        Assert.Equal("cancelled", run["status"]!.GetValue<string>());

        // A game day rolls back when it stops: the runbook compensates only on failure, yet what its run did before
        // the breach was undone, before the run ended (the drill registered that policy; the run says so).
        Assert.Equal(["/drain", "/undrain"], target.Requests.Where(r => r.Path is "/drain" or "/undrain").Select(r => r.Path));
        var (_, timeline, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "timeline", run["run_id"]!.GetValue<string>(), "--format", "json");
        var kinds = JsonNode.Parse(timeline)!["events"]!.AsArray().Select(e => (string)e!["kind"]!).ToList();
        Assert.True(kinds.IndexOf("compensation.succeeded") > kinds.IndexOf("run.cancel_requested") && kinds.IndexOf("compensation.succeeded") < kinds.IndexOf("run.cancelled"), string.Join(", ", kinds));
        var created = JsonNode.Parse(timeline)!["events"]!.AsArray().First(e => (string)e!["kind"]! == "run.created")!["data"]!;
        Assert.True(created["drill_compensate_on_cancel"]!.GetValue<bool>());
        Assert.Null(created["drill_live_steps"]); // no live.steps: every action ran for real

        // Into a breach, a drill does not start: nothing is sent, no run is made.
        (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "drill", "run", drill, "--live");
        Assert.Equal(1, code);
        Assert.Contains("note: the drill did not start: 'error storm' holds (value 500); nothing was sent", output, StringComparison.Ordinal);
        (_, runs, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "runs", "-o", "json");
        Assert.Single(JsonNode.Parse(runs)!.AsArray());
    }

    [Fact]
    public async Task Without_a_server_a_live_drill_runs_against_a_server_of_its_own_on_loopback_over_the_local_store()
    {
        var drill = await DrillAsync("no-server.drill.yaml", "drill: on-my-machine\nrunbook: live-restart\nalerts:\n  - { name: ApiDown }\nexpect: { outcome: completed, steps_run: [restart] }\n");
        var (code, output, err) = await cli.RunProcessAsync("carol", "sre", "drill", "run", drill, "--live");
        Assert.True(code == 0, err + output);
        Assert.Matches(@"no --server: a server of the drill's own on http://127\.0\.0\.1:\d+ over ", err);
        Assert.Contains(target.Requests, r => r.Method == "POST" && r.Path == "/restart");

        // The run and the report are in the local store, the run marked as the drill's, the report as carol's.
        (code, output, err) = await cli.RunProcessAsync("carol", "sre", "runs", "-o", "json");
        Assert.True(code == 0, err);
        Assert.Equal("on-my-machine", Assert.Single(JsonNode.Parse(output)!.AsArray())!["drill"]!.GetValue<string>());
        (_, output, _) = await cli.RunProcessAsync("carol", "sre", "drill", "list", "-o", "json");
        var kept = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(("live", "user:carol"), (kept["mode"]!.GetValue<string>(), kept["by"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_live_drill_that_marks_some_steps_live_runs_only_those_and_answers_the_others_from_the_scenario()
    {
        var drill = await DrillAsync("partial.drill.yaml", """
            drill: partial-live
            runbook: live-partial
            alerts:
              - { name: DiskFull }
            live:
              steps: [restart]
            steps:
              measure: { respond: { status: 200, json: { used: 97 } } }
              clean:
                calls:
                  - { fail: Transient, times: 1 }
                  - { respond: { exit_code: 0, stdout: "" }, latency: 50ms }
              restart: { fail: { kind: NeverUsed, non_retryable: true } }
            expect: { outcome: completed, steps_run: [measure, clean, restart], attempts: { clean: 2 } }
            """);

        var (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "drill", "run", drill, "--live");

        Assert.True(code == 0, err + output);
        Assert.Contains("live steps: restart; every other step is answered from the scenario", err, StringComparison.Ordinal);
        Assert.Contains("note: live: the actions of restart ran for real; every other step was answered from the scenario", output, StringComparison.Ordinal);

        // Only the live step reached the target; the answered ones ran nothing (no GET /measure, no file).
        Assert.Contains(target.Requests, r => r.Method == "POST" && r.Path == "/restart");
        Assert.DoesNotContain(target.Requests, r => r.Path == "/measure");
        Assert.False(File.Exists(Path.Combine(cli.Directory, "cleaned")));

        // The run says so itself: which steps were live, and each answered attempt (retried as the runbook says).
        (_, output, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "runs", "-o", "json");
        var runId = Assert.Single(JsonNode.Parse(output)!.AsArray())!["run_id"]!.GetValue<string>();
        (_, output, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "timeline", runId, "-o", "json");
        var events = JsonNode.Parse(output)!["events"]!.AsArray();
        var created = events.First(e => e!["kind"]!.GetValue<string>() == "run.created")!;
        Assert.Equal("restart", Assert.Single(created["data"]!["drill_live_steps"]!.AsArray())!.GetValue<string>());
        Assert.Equal(2, events.Count(e => e!["kind"]!.GetValue<string>() == "step.started" && e["data"]?["step"]?.GetValue<string>() == "clean"));

        // Ended with the drill: a run of the same drill started afterwards runs every action (here: the real GET fails).
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using var started = await http.PostAsync(url + "/api/runs", new StringContent("""{"runbook":"live-partial","drill":"partial-live"}""", System.Text.Encoding.UTF8, "application/json"));
        var after = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["run"]!["run_id"]!;
        using (var stream = await http.GetStreamAsync(url + $"/api/runs/{after}/events"))
        using (var reader = new StreamReader(stream))
        {
            // The server's live timeline ends with 'end' once the run has ended.
            while (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line && line != "event: end")
            {
            }
        }

        Assert.Contains(target.Requests, r => r.Path == "/measure");
    }

    [Theory]
    [InlineData("grafana", "team: shop", "summary: checkout is down")]
    [InlineData("azure-monitor", "env: prod, target_resource: /subscriptions/s-1/resourceGroups/rg-shop/providers/Microsoft.Web/sites/checkout", "description: checkout is down")]
    public async Task A_live_drill_sends_each_alert_to_its_sources_webhook_in_that_sources_format(string source, string labels, string annotations)
    {
        var drill = await DrillAsync($"{source}.drill.yaml", $$"""
            drill: live-{{source}}
            runbook: live-any-source
            alerts:
              - { name: CheckoutDown, source: {{source}}, labels: { {{labels}} }, annotations: { {{annotations}} } }
            expect: { outcome: completed, alert: started, steps_run: [restart] }
            """);

        var (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "drill", "run", drill, "--live");

        Assert.True(code == 0, err + output);
        Assert.Matches(@"T\+\S+ CheckoutDown fires: started \(live-any-source\) run run_", err);
        (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "runs", "-o", "json");
        Assert.True(code == 0, err);
        var run = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(($"alert:{source}/CheckoutDown", "completed"), (run["started_by"]!.GetValue<string>(), run["status"]!.GetValue<string>()));

        // Through that source's own parser: the alert the run recorded is the drill's, with the drill's label.
        (_, output, _) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "timeline", run["run_id"]!.GetValue<string>(), "-o", "json");
        var alert = JsonNode.Parse(output)!["events"]!.AsArray().First(e => e!["kind"]!.GetValue<string>() == "run.created")!["data"]!["trigger"]!["alert"]!;
        Assert.Equal(source, alert["source"]!.GetValue<string>());
        Assert.Equal($"live-{source}", alert["labels"]!["runbook_drill"]!.GetValue<string>());
        var (key, value) = (annotations.Split(": ")[0], annotations.Split(": ")[1]);
        Assert.Equal(value, alert["annotations"]![key]!.GetValue<string>());
        if (source == "azure-monitor")
        {
            Assert.Equal(("rg-shop", "prod"), (alert["labels"]!["resource_group"]!.GetValue<string>(), alert["labels"]!["env"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task A_live_pagerduty_drill_signs_its_deliveries_for_a_server_that_takes_only_signed_ones()
    {
        var drill = await DrillAsync("pager.drill.yaml", """
            drill: live-pager
            runbook: live-any-source
            alerts:
              - { name: CheckoutDown, source: pagerduty, labels: { service: checkout, urgency: high } }
            expect: { outcome: completed, alert: started, steps_run: [restart] }
            """);
        var env = new Dictionary<string, string> { ["PD_SIGNING"] = "pd-drill-secret-41" };

        // Without --server: the drill's own server checks X-PagerDuty-Signature with that secret.
        var (code, output, err) = await cli.RunProcessAsync("carol", "sre", env, "drill", "run", drill, "--live", "--pagerduty-secret", "secret://env/PD_SIGNING");
        Assert.True(code == 0, err + output);
        Assert.Matches(@"CheckoutDown fires: started \(live-any-source\) run run_", err);
        (_, output, _) = await cli.RunProcessAsync("carol", "sre", "runs", "-o", "json");
        var run = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(("alert:pagerduty/CheckoutDown", "live-pager"), (run["started_by"]!.GetValue<string>(), run["drill"]!.GetValue<string>()));
        (_, output, _) = await cli.RunProcessAsync("carol", "sre", "timeline", run["run_id"]!.GetValue<string>(), "-o", "json");
        var labels = JsonNode.Parse(output)!["events"]!.AsArray().First(e => e!["kind"]!.GetValue<string>() == "run.created")!["data"]!["trigger"]!["alert"]!["labels"]!;
        Assert.StartsWith("drill-live-pager-", labels["incident_id"]!.GetValue<string>(), StringComparison.Ordinal); // never a real incident's id
        Assert.Equal("checkout", labels["service"]!.GetValue<string>());
        Assert.DoesNotContain("pd-drill-secret-41", output + err, StringComparison.Ordinal);

        // A secret as text is refused before anything is sent, and so is the option without --live.
        (code, _, err) = await cli.RunProcessAsync("carol", "sre", env, "drill", "run", drill, "--live", "--pagerduty-secret", "pd-drill-secret-41");
        Assert.Equal(2, code);
        Assert.Contains("--pagerduty-secret takes a secret reference", err, StringComparison.Ordinal);
        (code, _, err) = await cli.RunProcessAsync("carol", "sre", env, "drill", "run", drill, "--pagerduty-secret", "secret://env/PD_SIGNING");
        Assert.Equal(2, code);
        Assert.Contains("--pagerduty-secret is for --live", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_live_drill_whose_alert_its_source_cannot_carry_is_refused_and_nothing_is_sent()
    {
        var pager = await DrillAsync("pager-host.drill.yaml", "drill: y\nrunbook: live-any-source\nalerts:\n  - { name: CheckoutDown, source: pagerduty, labels: { host: web-1 } }\nlive:\n  stop_conditions: [{ promql: up == 0 }]\nexpect: { outcome: completed }\n");
        var (code, _, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token, "drill", "run", pager, "--live");
        Assert.Equal(2, code);
        Assert.Contains("pager-host.drill.yaml:4:5: label 'host' cannot be sent live to /hooks/pagerduty (an incident carries only title/alertname", err, StringComparison.Ordinal);
        Assert.Contains("pager-host.drill.yaml:6:21: stop conditions need a Prometheus: set live.prometheus or RUNBOOK_PROMETHEUS_URL", err, StringComparison.Ordinal);
        Assert.DoesNotContain(target.Requests, r => r.Path == "/restart");
    }

    private async Task<string> DrillAsync(string name, string yaml)
    {
        var path = Path.Combine(cli.Directory, name);
        await File.WriteAllTextAsync(path, yaml.Replace("PROM", prometheus.Url, StringComparison.Ordinal));
        return path;
    }

    private async Task<bool> QueryAsync(string promql)
    {
        using var http = new HttpClient();
        var answer = JsonNode.Parse(await http.GetStringAsync($"{prometheus.Url}/api/v1/query?query={Uri.EscapeDataString(promql)}"));
        return answer?["data"]?["result"] is JsonArray { Count: > 0 };
    }

    /// <summary>Waits, scrape by scrape, until Prometheus answers the query with a series (the samples of one scrape are queryable by the next).</summary>
    private async Task UntilScrapedAsync(string promql)
    {
        for (var i = 0; i < 30; i++)
        {
            await Volatile.Read(ref scraped).Task.WaitAsync(TimeSpan.FromSeconds(30));
            if (await QueryAsync(promql))
            {
                return;
            }
        }

        Assert.Fail($"Prometheus never answered {promql} with a series");
    }

    private (int, string, string) Scraped((int, string, string) answer)
    {
        Interlocked.Exchange(ref scraped, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return answer;
    }
}
