using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Actions.Kubernetes;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>A YAML runbook that restarts a deployment, run against the fake Kubernetes API server on 127.0.0.1.</summary>
public sealed class KubernetesRunbookTests : IAsyncLifetime
{
    private const string Yaml = """
        name: restart-api
        inputs:
          deployment: { type: string }
          kubeconfig: { type: string }
        steps:
          - id: before
            action: kubernetes
            with: { operation: get, kind: deployment, name: "${{ inputs.deployment }}", kubeconfig: "${{ inputs.kubeconfig }}" }
            outputs:
              replicas: ${{ result.object.spec.replicas }}
          - id: restart
            action: kubernetes
            with: { operation: restart, name: "${{ inputs.deployment }}", kubeconfig: "${{ inputs.kubeconfig }}" }
          - id: rolled-out
            action: kubernetes
            with: { operation: wait, kind: deployment, name: "${{ inputs.deployment }}", condition: rolled_out, timeout: 5m, kubeconfig: "${{ inputs.kubeconfig }}" }
        outputs:
          replicas: ${{ steps.before.outputs.replicas }}
        """;

    private RunbookTestHost host = null!;
    private FakeKubernetes kube = null!;
    private string kubeconfig = null!;

    public async Task InitializeAsync()
    {
        host = await RunbookTestHost.CreateAsync();
        kube = await FakeKubernetes.StartAsync();
        kubeconfig = kube.WriteKubeconfig(Path.Combine(host.Directory, "kubeconfig"), ns: "prod");
        kube.Deployment("prod", "api", replicas: 3);
        host.Actions.Add(new KubernetesAction(host.Time, new KubeCredentials(_ => null, host.Directory)));

        // The controller's answer to a restart: a new generation, then fully rolled out.
        kube.OnWatch = _ =>
        {
            var obj = kube.Get("/apis/apps/v1/namespaces/prod/deployments/api")!;
            obj["status"] = FakeKubernetes.DeploymentStatus(3, available: true, observedGeneration: obj["metadata"]!["generation"]!.GetValue<int>());
            return [("MODIFIED", obj)];
        };
    }

    public async Task DisposeAsync()
    {
        await kube.DisposeAsync();
        await host.DisposeAsync();
    }

    [Fact]
    public async Task A_dry_run_sends_only_reads_and_plans_every_step()
    {
        var runId = await host.StartAsync(Yaml, new JsonObject { ["deployment"] = "api", ["kubeconfig"] = kubeconfig }, dryRun: true);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(runId)).Status);
        Assert.NotEmpty(kube.Requests);
        Assert.All(kube.Requests, r => Assert.Equal("GET", r.Method));
        Assert.DoesNotContain(kube.Requests, r => r.Query.Contains("watch", StringComparison.Ordinal)); // planning a wait reads once, it does not wait
        var plan = Service.LocalRunbookService.Plan(await host.HistoryAsync(runId)).Select(p => $"{p.Step}: {p.Plan}").ToList();
        Assert.Equal(
            [
                "before: would read deployment prod/api",
                "restart: would restart deployment prod/api: its pods are replaced one by one",
                "rolled-out: would wait up to 5m for deployment prod/api to be rolled_out (it is now)",
            ],
            plan);
    }

    [Fact]
    public async Task A_live_run_restarts_once_and_waits_for_the_rollout()
    {
        var runId = await host.StartAsync(Yaml, new JsonObject { ["deployment"] = "api", ["kubeconfig"] = kubeconfig });
        await host.DrainAsync();

        var run = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(3, JsonNode.Parse(run.Output!)!["replicas"]!.GetValue<long>());
        var patch = Assert.Single(kube.Writes);
        Assert.Equal("/apis/apps/v1/namespaces/prod/deployments/api", patch.Path);
        Assert.Contains($"\"{KubernetesAction.RestartKeyAnnotation}\":\"{runId}/", patch.Body, StringComparison.Ordinal);
        Assert.Single(kube.Requests, r => r.Query.Contains("watch=true", StringComparison.Ordinal));
    }
}
