using System.Text.Json;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills.Tests;

public sealed class SideEffectTests : IDisposable
{
    private readonly DrillHost host = new();

    public void Dispose() => host.Dispose();

    [Fact]
    public async Task Nothing_leaves_a_drill_no_process_no_http_request_and_no_secret_read()
    {
        await using var target = new LocalHttpServer((_, _) => (200, "{}", "application/json"));
        var marker = Path.Combine(host.Directory, "touched");
        var secretName = "DRILL_SECRET_" + Guid.NewGuid().ToString("N");
        const string secret = "s3cr3t-drill-value-4711";
        Environment.SetEnvironmentVariable(secretName, secret);
        try
        {
            host.Runbook("effects.yaml", $$$"""
                name: effects
                inputs:
                  token: { type: string, secret: true, required: true }
                steps:
                  - id: touch
                    action: shell
                    with: { command: [touch, "{{{marker}}}"] }
                  - id: post
                    action: http
                    with:
                      method: POST
                      url: "{{{target.Url}}}/restart"
                      headers: { Authorization: "Bearer ${{ inputs.token }}" }
                  - id: script
                    action: powershell
                    with: { script: "New-Item -ItemType File -Path '{{{marker}}}-ps' | Out-Null" }
                """);
            var result = await host.RunAsync(host.Drill("effects.drill.yaml", $$"""
                drill: effects
                runbook: effects
                run: { inputs: { token: "secret://env/{{secretName}}" } }
                actions:
                  shell: { respond: { exit_code: 0 } }
                  http: { respond: { status: 200 } }
                  powershell: { respond: { value: null } }
                expect: { outcome: completed, steps_run: [touch, post, script], no_unapproved_destructive: false }
                """));

            // (A script without SupportsShouldProcess cannot be previewed, so it is classed destructive: allowed here.)
            Assert.True(result.Passed, DrillReports.Text(result));
            Assert.False(File.Exists(marker), "the shell command ran");
            Assert.False(File.Exists(marker + "-ps"), "the PowerShell script ran");
            Assert.Empty(target.Requests);

            // The call carries the reference, never the value, and the value is nowhere in the result.
            var post = Assert.Single(result.Calls, c => c.Step == "post");
            Assert.Equal($"Bearer secret://env/{secretName}", post.With["headers"]?["Authorization"]?.GetValue<string>());
            Assert.DoesNotContain(secret, JsonSerializer.Serialize(result, WorkflowJson.Options), StringComparison.Ordinal);
            Assert.DoesNotContain(secret, DrillReports.Markdown([result]), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(secretName, null);
        }
    }

    [Fact]
    public async Task A_dry_run_drill_plans_from_the_drill_and_never_runs_the_actions_own_plan()
    {
        await using var api = new LocalHttpServer((_, _) => (200, "{}", "application/json"));
        var kubeconfig = Path.Combine(host.Directory, "kubeconfig");
        File.WriteAllText(kubeconfig, $"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"{api.Url}\"}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n");
        host.Runbook("plan.yaml", $$"""
            name: plan
            steps:
              - id: get
                action: kubernetes
                with: { operation: get, kind: deployment, namespace: shop, name: checkout, kubeconfig: "{{kubeconfig}}" }
            """);
        var result = await host.RunAsync(host.Drill("plan.drill.yaml", """
            drill: plan
            runbook: plan
            run: { dry_run: true }
            steps:
              get:
                plan: { summary: "would read deployment shop/checkout (3 replicas, 1 ready)" }
            expect: { outcome: completed }
            """));

        Assert.True(result.Passed, DrillReports.Text(result));
        Assert.Empty(api.Requests);
        var call = Assert.Single(result.Calls);
        Assert.Equal("plan", call.Role);
        Assert.Equal("plan from the drill", call.Answer);
    }
}
