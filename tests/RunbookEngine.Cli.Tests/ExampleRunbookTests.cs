using System.Diagnostics;
using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Cli.Tests;

/// <summary>Every runbook in runbooks/, dry-run and live, against local stand-ins for the systems it touches.</summary>
public sealed class ExampleRunbookTests : IDisposable
{
    private readonly CliFixture cli = new();

    public ExampleRunbookTests() => cli.UseExamples();

    public void Dispose() => cli.Dispose();

    private string Logs()
    {
        var dir = Path.Combine(cli.Directory, "var-log");
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { "app-1.log", "app-2.log" })
        {
            File.WriteAllText(Path.Combine(dir, name), "old");
            File.SetLastWriteTimeUtc(Path.Combine(dir, name), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        }

        File.WriteAllText(Path.Combine(dir, "today.log"), "new");
        return dir;
    }

    [Fact]
    public async Task All_examples_are_valid()
    {
        var (code, output, err) = await cli.InvokeAsync("alice", "validate");
        Assert.True(code == 0, err);
        Assert.Contains("9 runbook(s) valid", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stale_files_cleanup_in_powershell_lists_what_it_would_delete_then_deletes_only_the_old_files()
    {
        var logs = Logs();
        var (code, output, err) = await cli.InvokeAsync("alice", "run", "stale-files-cleanup-powershell", "-p", $"path={logs}", "--dry-run");
        Assert.True(code == 0, err + output);
        Assert.Contains("survey: would run the PowerShell script (inline, 6 lines): its -WhatIf preview reports no change", output, StringComparison.Ordinal);
        Assert.Contains($"remove: would run the PowerShell script scripts/Remove-StaleFiles.ps1: Performing the operation \"Remove File\" on target \"{logs}/app-1.log\"; Performing the operation \"Remove File\" on target \"{logs}/app-2.log\"", output, StringComparison.Ordinal);
        Assert.Equal(3, Directory.GetFiles(logs).Length);

        (code, output, err) = await cli.InvokeAsync("alice", "run", "stale-files-cleanup-powershell", "-p", $"path={logs}", "--output", "json");
        Assert.True(code == 0, err + output);
        var run = JsonNode.Parse(output)!;
        Assert.Equal("completed", run["status"]!.GetValue<string>());
        Assert.Equal(2, run["output"]!["removed"]!.GetValue<int>());
        Assert.Equal(6, run["output"]!["freed_bytes"]!.GetValue<long>());
        Assert.Equal(["today.log"], Directory.GetFiles(logs).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Disk_full_cleanup_dry_run_plans_the_deletion_and_deletes_nothing()
    {
        var logs = Logs();
        var (code, output, err) = await cli.InvokeAsync("alice", "run", "disk-full-cleanup", "-p", $"path={logs}", "-p", "threshold=0", "--dry-run");
        Assert.True(code == 0, err + output);
        Assert.Contains("approve: would wait for 1 approval(s) from group:sre-oncall", output, StringComparison.Ordinal);
        Assert.Contains($"clean: would run: find {logs} -type f -name '*.log' -mtime +7 -delete -print", output, StringComparison.Ordinal);
        Assert.Equal(3, Directory.GetFiles(logs).Length);
    }

    [Fact]
    public async Task Disk_full_cleanup_waits_in_one_process_for_an_approval_given_from_another()
    {
        var logs = Logs();
        using var running = cli.Start("alice", string.Empty, "run", "disk-full-cleanup", "-p", $"path={logs}", "-p", "threshold=0");
        var stdout = running.StandardOutput.ReadToEndAsync();
        var stderr = running.StandardError.ReadToEndAsync();
        var id = await cli.WaitingRunAsync();

        var selfApproval = await cli.RunProcessAsync("alice", "sre-oncall", "approve", id);
        Assert.Equal(1, selfApproval.Code);
        Assert.Contains("four-eyes: alice started this run", selfApproval.Err, StringComparison.Ordinal);
        var approval = await cli.RunProcessAsync("carol", "sre-oncall", "approve", id, "-m", "old logs only");
        Assert.True(approval.Code == 0, approval.Err);

        await running.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        var output = await stdout;
        Assert.True(running.ExitCode == 0, output + await stderr);
        Assert.Contains($"approve with: runbook approve {id} --step approve", output, StringComparison.Ordinal);
        Assert.Contains("refused: four-eyes", output, StringComparison.Ordinal);
        Assert.Contains("approved by user:carol (1/1): old logs only", output, StringComparison.Ordinal);
        Assert.Contains("\"deleted\":2", output, StringComparison.Ordinal);
        Assert.Equal(["today.log"], Directory.GetFiles(logs).Select(Path.GetFileName));
    }

    /// <summary>A run's top-level steps with their status, its status and its outputs: what a YAML runbook and its script twin must share.</summary>
    private async Task<(string Steps, string Status, JsonNode? Output)> OutcomeAsync(string runId)
    {
        var (code, json, err) = await cli.InvokeAsync("observer", "status", runId, "-o", "json");
        Assert.True(code is 0 or 1, err);
        var status = JsonNode.Parse(json)!;
        var steps = status["steps"]!.AsArray()
            .Select(s => (Name: s!["name"]!.GetValue<string>(), Status: s["status"]!.GetValue<string>()))
            .Where(s => !s.Name.Contains('/', StringComparison.Ordinal))
            .Select(s => $"{s.Name}:{s.Status}");
        return (string.Join(' ', steps), status["status"]!.GetValue<string>(), status["output"]);
    }

    /// <summary>Runs a runbook in a real process, which waits for approval; another user approves it.</summary>
    private async Task<(string RunId, string Output)> RunApprovedAsync(string runbook, string logs)
    {
        using var running = cli.Start("alice", string.Empty, "run", runbook, "-p", $"path={logs}", "-p", "threshold=0");
        var stdout = running.StandardOutput.ReadToEndAsync();
        var stderr = running.StandardError.ReadToEndAsync();
        var id = await cli.WaitingRunAsync();
        var approval = await cli.RunProcessAsync("carol", "sre-oncall", "approve", id, "-m", "old logs only");
        Assert.True(approval.Code == 0, approval.Err);
        await running.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(running.ExitCode == 0, await stdout + await stderr);
        return (id, await stdout);
    }

    [Fact]
    public async Task Disk_full_cleanup_as_yaml_and_as_a_csharp_script_take_the_same_steps_to_the_same_outcome()
    {
        var yamlLogs = Logs();
        var (yamlRun, _) = await RunApprovedAsync("disk-full-cleanup", yamlLogs);
        var yamlLeft = Directory.GetFiles(yamlLogs).Select(Path.GetFileName).ToList();
        var scriptLogs = Path.Combine(cli.Directory, "script-logs");
        Directory.Move(Logs(), scriptLogs);
        var (scriptRun, scriptOut) = await RunApprovedAsync("disk-full-cleanup-script", scriptLogs);

        var yaml = await OutcomeAsync(yamlRun);
        var script = await OutcomeAsync(scriptRun);
        Assert.Equal("measure:completed candidates:completed approve:completed clean:completed verify:completed", yaml.Steps);
        Assert.Equal(yaml.Steps, script.Steps);
        Assert.Equal(("completed", "completed"), (yaml.Status, script.Status));
        Assert.Equal(2, yaml.Output!["deleted"]!.GetValue<int>());
        Assert.Equal(2, script.Output!["deleted"]!.GetValue<int>());
        Assert.Equal(yaml.Output.AsObject().Select(p => p.Key), script.Output.AsObject().Select(p => p.Key));
        Assert.Equal(["today.log"], yamlLeft);
        Assert.Equal(["today.log"], Directory.GetFiles(scriptLogs).Select(Path.GetFileName));
        Assert.Contains("approved by user:carol (1/1): old logs only", scriptOut, StringComparison.Ordinal);

        // Their dry-runs plan the same actions (the YAML plan also says which conditions depend on planned steps).
        var yamlPlan = await cli.InvokeAsync("alice", "run", "disk-full-cleanup", "-p", $"path={scriptLogs}", "--dry-run");
        var scriptPlan = await cli.InvokeAsync("alice", "run", "disk-full-cleanup-script", "-p", $"path={scriptLogs}", "--dry-run");
        Assert.True(scriptPlan.Code == 0, scriptPlan.Err);
        Assert.Equal(5, PlanLines(yamlPlan.Out).Length);
        Assert.Equal(PlanLines(yamlPlan.Out), PlanLines(scriptPlan.Out));

        static string[] PlanLines(string output) =>
            [.. output.Split('\n').SkipWhile(l => !l.StartsWith("Plan", StringComparison.Ordinal)).TakeWhile(l => l.Trim().Length > 0)
                .Where(l => l.Contains(": would ", StringComparison.Ordinal)).Select(l => l[(l.IndexOf(". ", StringComparison.Ordinal) + 2)..])];
    }

    [Fact]
    public async Task Restart_unhealthy_service_as_yaml_and_as_a_csharp_script_send_the_same_requests_to_the_same_outcome()
    {
        var outcomes = new List<(string Steps, string Status, JsonNode? Output, string Requests)>();
        foreach (var runbook in new[] { "restart-unhealthy-service", "restart-unhealthy-service-script" })
        {
            var healthy = false;
            await using var service = new LocalHttpServer((req, _) => (req.HttpMethod, req.Url!.AbsolutePath) switch
            {
                ("GET", "/health") => healthy ? (200, "ok", "text/plain") : (503, "down", "text/plain"),
                ("POST", "/restart") => Restart(),
                _ => (404, "no", "text/plain"),
            });
            var dry = await cli.InvokeAsync("alice", "run", runbook, "-p", $"health_url={service.Url}/health", "-p", $"restart_url={service.Url}/restart", "--dry-run");
            Assert.True(dry.Code == 0, dry.Err);
            Assert.Contains($"would send POST {service.Url}/restart", dry.Out, StringComparison.Ordinal);
            Assert.Empty(service.Requests);

            var (code, output, err) = await cli.InvokeAsync("alice", "run", runbook, "-p", $"health_url={service.Url}/health", "-p", $"restart_url={service.Url}/restart", "-o", "json");
            Assert.True(code == 0, err + output);
            var (steps, status, result) = await OutcomeAsync(JsonNode.Parse(output)!["run_id"]!.GetValue<string>());
            outcomes.Add((steps, status, result, string.Join(", ", service.Requests.Select(r => $"{r.Method} {r.Path}"))));

            (int, string, string) Restart()
            {
                healthy = true;
                return (202, "{\"restarting\":true}", "application/json");
            }
        }

        Assert.Equal("probe:completed restart:completed report:completed", outcomes[0].Steps);
        Assert.Equal(outcomes[0].Steps, outcomes[1].Steps);
        Assert.Equal("GET /health, POST /restart, GET /health", outcomes[0].Requests);
        Assert.Equal(outcomes[0].Requests, outcomes[1].Requests);
        Assert.Equal("completed", outcomes[1].Status);
        Assert.Equal("{\"initial_status\":503,\"restarted\":true}", outcomes[0].Output!.ToJsonString());
        Assert.Equal(outcomes[0].Output!.ToJsonString(), outcomes[1].Output!.ToJsonString());
    }

    [Fact]
    public async Task Restart_unhealthy_service_restarts_a_failing_service_and_waits_for_health()
    {
        var healthy = false;
        await using var service = new LocalHttpServer((req, _) => (req.HttpMethod, req.Url!.AbsolutePath) switch
        {
            ("GET", "/health") => healthy ? (200, "ok", "text/plain") : (503, "down", "text/plain"),
            ("POST", "/restart") => Restart(),
            _ => (404, "no", "text/plain"),
        });

        var dry = await cli.InvokeAsync("alice", "run", "restart-unhealthy-service", "-p", $"health_url={service.Url}/health", "-p", $"restart_url={service.Url}/restart", "--dry-run");
        Assert.True(dry.Code == 0, dry.Err);
        Assert.Contains($"would send POST {service.Url}/restart", dry.Out, StringComparison.Ordinal);
        Assert.Empty(service.Requests);

        var (code, output, err) = await cli.InvokeAsync("alice", "run", "restart-unhealthy-service", "-p", $"health_url={service.Url}/health", "-p", $"restart_url={service.Url}/restart", "-o", "json");
        Assert.True(code == 0, err + output);
        var run = JsonNode.Parse(output)!;
        Assert.Equal(503, run["output"]!["initial_status"]!.GetValue<int>());
        Assert.True(run["output"]!["restarted"]!.GetValue<bool>());
        Assert.Equal(["GET /health", "POST /restart", "GET /health"], service.Requests.Select(r => $"{r.Method} {r.Path}"));

        (int, string, string) Restart()
        {
            healthy = true;
            return (202, "{\"restarting\":true}", "application/json");
        }
    }

    [Fact]
    public async Task Deploy_rollback_rolls_back_after_a_release_manager_approves_and_keeps_the_token_secret()
    {
        const string Token = "deploy-token-8c1f";
        Environment.SetEnvironmentVariable("RB_EXAMPLE_DEPLOY_TOKEN", Token);
        var version = "v2";
        await using var deploy = new LocalHttpServer((req, body) => (req.HttpMethod, req.Url!.AbsolutePath) switch
        {
            ("GET", "/services/checkout/health") => (200, version == "v2" ? "{\"error_rate\":0.21,\"version\":\"v2\"}" : "{\"error_rate\":0.01,\"version\":\"v1\"}", "application/json"),
            ("POST", "/services/checkout/rollback") => Rollback(),
            _ => (404, "{}", "application/json"),
        });
        string[] args = ["run", "deploy-rollback", "-p", "service=checkout", "-p", $"deploy_api={deploy.Url}", "-p", "token=secret://env/RB_EXAMPLE_DEPLOY_TOKEN"];

        var dry = await cli.InvokeAsync("alice", [.. args, "--dry-run"]);
        Assert.True(dry.Code == 0, dry.Err);
        Assert.Empty(deploy.Requests);

        var running = cli.InvokeAsync("alice", args);
        var id = await cli.WaitingRunAsync();
        var approval = await cli.InvokeAsync("dave", new Dictionary<string, string> { ["RUNBOOK_GROUPS"] = "release-managers" }, CancellationToken.None, "approve", id);
        Assert.True(approval.Code == 0, approval.Err);
        var (code, output, err) = await running.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(code == 0, err + output);
        Assert.Contains("\"rolled_back_to\":\"v1\"", output, StringComparison.Ordinal);
        Assert.All(deploy.Requests, r => Assert.Equal("Bearer " + Token, r.Headers["Authorization"]));
        Assert.Contains("\"requested_by\":\"user:alice\"", deploy.Requests.Single(r => r.Method == "POST").Body, StringComparison.Ordinal);
        var (_, timeline, _) = await cli.InvokeAsync("alice", "timeline", id, "-o", "json");
        Assert.DoesNotContain(Token, timeline, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, output, StringComparison.Ordinal);

        (int, string, string) Rollback()
        {
            version = "v1";
            return (200, "{\"version\":\"v1\"}", "application/json");
        }
    }

    [Fact]
    public async Task Certificate_expiry_renews_a_certificate_that_expires_in_five_days()
    {
        var cert = Path.Combine(cli.Directory, "server.pem");
        await Openssl(cert, days: 5);
        var before = await File.ReadAllTextAsync(cert);
        await using var ca = new LocalHttpServer((req, _) =>
        {
            if (req.HttpMethod == "POST" && req.Url!.AbsolutePath == "/renew")
            {
                OpensslBlocking(cert, days: 90); // the stand-in CA answers only once the new certificate is in place
                return (200, "{\"renewed\":true}", "application/json");
            }

            return (404, "{}", "application/json");
        });
        string[] args = ["run", "certificate-expiry", "-p", $"cert_file={cert}", "-p", $"renew_url={ca.Url}/renew"];

        var dry = await cli.InvokeAsync("alice", [.. args, "--dry-run"]);
        Assert.True(dry.Code == 0, dry.Err);
        Assert.Empty(ca.Requests);
        Assert.Equal(before, await File.ReadAllTextAsync(cert));

        var (code, output, err) = await cli.InvokeAsync("alice", [.. args, "-o", "json"]);
        Assert.True(code == 0, err + output);
        var outputs = JsonNode.Parse(output)!["output"]!;
        Assert.InRange(outputs["days_left"]!.GetValue<int>(), 4, 5);
        Assert.True(outputs["renewed"]!.GetValue<bool>());
        Assert.Single(ca.Requests);
        Assert.NotEqual(before, await File.ReadAllTextAsync(cert));
    }

    [Fact]
    public async Task Queue_backlog_scale_out_adds_consumers_and_waits_for_the_backlog_to_drain()
    {
        var (depth, consumers) = (5400, 3);
        await using var platform = new LocalHttpServer((req, body) => (req.HttpMethod, req.Url!.AbsolutePath) switch
        {
            ("GET", "/queues/orders") => (200, $"{{\"depth\":{depth},\"consumers\":{consumers}}}", "application/json"),
            ("POST", "/deployments/order-consumer/scale") => Scale(body),
            _ => (404, "{}", "application/json"),
        });
        string[] args = ["run", "queue-backlog-scale-out", "-p", $"metrics_url={platform.Url}/queues/orders", "-p", $"scale_url={platform.Url}/deployments/order-consumer/scale"];

        var dry = await cli.InvokeAsync("alice", [.. args, "--dry-run"]);
        Assert.True(dry.Code == 0, dry.Err);
        Assert.Empty(platform.Requests);

        var (code, output, err) = await cli.InvokeAsync("alice", [.. args, "-o", "json"]);
        Assert.True(code == 0, err + output);
        Assert.True(JsonNode.Parse(output)!["output"]!["scaled"]!.GetValue<bool>());
        Assert.Equal(5, consumers);
        Assert.Contains("\"consumers\":5", platform.Requests.Single(r => r.Method == "POST").Body, StringComparison.Ordinal);

        (int, string, string) Scale(string body)
        {
            consumers = JsonNode.Parse(body)!["consumers"]!.GetValue<int>();
            depth = 300;
            return (200, "{}", "application/json");
        }
    }

    [Fact]
    public async Task Kubernetes_rollout_restart_restarts_a_deployment_that_is_not_available_and_waits_for_the_rollout()
    {
        await using var kube = await FakeKubernetes.StartAsync();
        var kubeconfig = kube.WriteKubeconfig(Path.Combine(cli.Directory, "kubeconfig"));
        kube.Deployment("shop", "checkout", replicas: 4, available: false);
        kube.OnWatch = _ =>
        {
            var obj = kube.Get("/apis/apps/v1/namespaces/shop/deployments/checkout")!;
            obj["status"] = FakeKubernetes.DeploymentStatus(4, available: true, observedGeneration: obj["metadata"]!["generation"]!.GetValue<int>());
            return [("MODIFIED", obj)];
        };
        string[] args = ["run", "kubernetes-rollout-restart", "-p", "namespace=shop", "-p", "deployment=checkout", "-p", $"kubeconfig={kubeconfig}"];

        var dry = await cli.InvokeAsync("alice", [.. args, "--dry-run"]);
        Assert.True(dry.Code == 0, dry.Err);
        Assert.Contains("restart: would restart deployment shop/checkout: its pods are replaced one by one", dry.Out, StringComparison.Ordinal);
        Assert.Empty(kube.Writes);

        var (code, output, err) = await cli.InvokeAsync("alice", [.. args, "-o", "json"]);
        Assert.True(code == 0, err + output);
        var outputs = JsonNode.Parse(output)!["output"]!;
        Assert.False(outputs["was_ready"]!.GetValue<bool>());
        Assert.True(outputs["restarted"]!.GetValue<bool>());
        Assert.Equal("/apis/apps/v1/namespaces/shop/deployments/checkout", Assert.Single(kube.Writes).Path);

        // Now available: a second run leaves it alone.
        var again = await cli.InvokeAsync("alice", [.. args, "-o", "json"]);
        Assert.True(again.Code == 0, again.Err);
        Assert.False(JsonNode.Parse(again.Out)!["output"]!["restarted"]!.GetValue<bool>());
        Assert.Single(kube.Writes);
    }

    private static void OpensslBlocking(string certFile, int days)
    {
        using var p = Process.Start(OpensslInfo(certFile, days))!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err);
    }

    private static async Task Openssl(string certFile, int days)
    {
        using var p = Process.Start(OpensslInfo(certFile, days))!;
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, err);
    }

    private static ProcessStartInfo OpensslInfo(string certFile, int days)
    {
        var info = new ProcessStartInfo("openssl") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", certFile + ".key", "-out", certFile, "-days", days.ToString(System.Globalization.CultureInfo.InvariantCulture), "-subj", "/CN=checkout.internal" })
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }
}
