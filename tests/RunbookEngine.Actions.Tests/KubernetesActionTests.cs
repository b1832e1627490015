using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions.Kubernetes;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Tests;

public sealed class KubernetesActionTests : IAsyncLifetime
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "runbook-k8s", Guid.NewGuid().ToString("N"));
    private readonly ManualTimeProvider time = new();
    private FakeKubernetes kube = null!;
    private string kubeconfig = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(dir);
        kube = await FakeKubernetes.StartAsync();
        kubeconfig = kube.WriteKubeconfig(Path.Combine(dir, "config"), ns: "prod");
    }

    public async Task DisposeAsync()
    {
        await kube.DisposeAsync();
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Restart_plans_with_reads_only_then_patches_the_pod_template_once_per_step()
    {
        kube.Deployment("prod", "api", replicas: 3);
        var action = Action();

        var plan = await action.PlanAsync(Request(new JsonObject { ["operation"] = "restart", ["name"] = "api" }), CancellationToken.None);
        Assert.Equal("would restart deployment prod/api: its pods are replaced one by one", plan.Summary);
        Assert.Equal(SideEffect.Mutating, plan.SideEffect);
        Assert.Equal(3, plan.Details!["current"]!["replicas"]!.GetValue<long>());
        Assert.Empty(kube.Writes);

        var result = await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "restart", ["name"] = "api" }), CancellationToken.None);
        var patch = Assert.Single(kube.Writes);
        Assert.Equal("PATCH", patch.Method);
        Assert.Equal("/apis/apps/v1/namespaces/prod/deployments/api", patch.Path);
        Assert.StartsWith("application/merge-patch+json", patch.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Equal($"Bearer {kube.Token}", patch.Header("Authorization"));
        var annotations = JsonNode.Parse(patch.Body)!["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("2026-11-21T09:00:00Z", annotations["kubectl.kubernetes.io/restartedAt"]!.GetValue<string>());
        Assert.Equal("run_1/3", annotations[KubernetesAction.RestartKeyAnnotation]!.GetValue<string>());
        Assert.True(result["changed"]!.GetValue<bool>());
        Assert.Equal(2, result["object"]!["metadata"]!["generation"]!.GetValue<int>());
        Assert.Null(result["object"]!["metadata"]!["managedFields"]);

        // A retried attempt of the same step finds its own mark and does not restart the pods a second time.
        var again = await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "restart", ["name"] = "api" }, attempt: 3), CancellationToken.None);
        Assert.False(again["changed"]!.GetValue<bool>());
        Assert.Single(kube.Writes);
    }

    [Fact]
    public async Task Scale_reads_the_scale_subresource_and_patches_only_when_the_count_differs()
    {
        kube.Deployment("web", "frontend", replicas: 3);
        var action = Action();
        var with = new JsonObject { ["operation"] = "scale", ["name"] = "frontend", ["namespace"] = "web", ["replicas"] = 5 };

        var plan = await action.PlanAsync(Request(with), CancellationToken.None);
        Assert.Equal("would scale deployment web/frontend from 3 to 5 replicas", plan.Summary);
        Assert.Empty(kube.Writes);

        var result = await action.ExecuteAsync(Request(with), CancellationToken.None);
        Assert.Equal((3L, 5, true), (result["from"]!.GetValue<long>(), result["to"]!.GetValue<int>(), result["changed"]!.GetValue<bool>()));
        var patch = Assert.Single(kube.Writes);
        Assert.Equal(("PATCH", "/apis/apps/v1/namespaces/web/deployments/frontend/scale", """{"spec":{"replicas":5}}"""), (patch.Method, patch.Path, patch.Body));
        Assert.Equal(5, kube.Get("/apis/apps/v1/namespaces/web/deployments/frontend")!["spec"]!["replicas"]!.GetValue<int>());

        var again = await action.ExecuteAsync(Request(with), CancellationToken.None);
        Assert.False(again["changed"]!.GetValue<bool>());
        Assert.Single(kube.Writes);
    }

    [Fact]
    public async Task Delete_removes_a_pod_with_its_grace_period_and_a_pod_already_gone_is_the_goal_reached()
    {
        kube.Pod("prod", "api-7d9f-x2x", "node-1");
        var action = Action();
        var with = new JsonObject { ["operation"] = "delete", ["name"] = "api-7d9f-x2x", ["grace_period"] = 10 };
        Assert.Equal(SideEffect.Destructive, action.Classify(with));

        var plan = await action.PlanAsync(Request(with), CancellationToken.None);
        Assert.Equal("would delete pod prod/api-7d9f-x2x (on node node-1)", plan.Summary);
        Assert.Empty(kube.Writes);

        Assert.True((await action.ExecuteAsync(Request(with), CancellationToken.None))["changed"]!.GetValue<bool>());
        var delete = Assert.Single(kube.Writes);
        Assert.Equal(("DELETE", "/api/v1/namespaces/prod/pods/api-7d9f-x2x"), (delete.Method, delete.Path));
        Assert.Equal(10, JsonNode.Parse(delete.Body)!["gracePeriodSeconds"]!.GetValue<int>());
        Assert.Null(kube.Get("/api/v1/namespaces/prod/pods/api-7d9f-x2x"));

        Assert.False((await action.ExecuteAsync(Request(with), CancellationToken.None))["changed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Wait_watches_from_the_version_it_read_until_the_condition_holds()
    {
        var deployment = kube.Deployment("prod", "api", replicas: 2, available: false);
        var version = deployment["metadata"]!["resourceVersion"]!.GetValue<string>();
        kube.OnWatch = _ =>
        {
            var obj = kube.Get("/apis/apps/v1/namespaces/prod/deployments/api")!;
            var progressing = (JsonObject)obj.DeepClone();
            obj["status"] = FakeKubernetes.DeploymentStatus(2, available: true, observedGeneration: 1);
            return [("MODIFIED", progressing), ("MODIFIED", obj)];
        };

        var result = await Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "wait", ["kind"] = "deployment", ["name"] = "api", ["condition"] = "Available", ["timeout"] = "2m" }), CancellationToken.None);

        Assert.True(result["ready"]!.GetValue<bool>());
        Assert.Equal("True", result["conditions"]!["Available"]!.GetValue<string>());
        var watch = kube.Requests.Single(r => r.Query.Contains("watch=true", StringComparison.Ordinal));
        Assert.Equal("/apis/apps/v1/namespaces/prod/deployments", watch.Path);
        Assert.Contains("fieldSelector=metadata.name%3Dapi", watch.Query, StringComparison.Ordinal);
        Assert.Contains($"resourceVersion={version}", watch.Query, StringComparison.Ordinal);
        Assert.Contains("timeoutSeconds=120", watch.Query, StringComparison.Ordinal);
        Assert.Empty(kube.Writes);
    }

    [Fact]
    public async Task Wait_for_rolled_out_and_deleted_and_a_timeout_names_the_last_conditions()
    {
        var deployment = kube.Deployment("prod", "api", replicas: 2);
        deployment["metadata"]!["generation"] = 2; // spec changed; the controller has not caught up
        kube.OnWatch = _ =>
        {
            var obj = kube.Get("/apis/apps/v1/namespaces/prod/deployments/api")!;
            obj["status"] = FakeKubernetes.DeploymentStatus(2, available: true, observedGeneration: 2);
            return [("MODIFIED", obj)];
        };
        var rolled = await Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "wait", ["kind"] = "deployment", ["name"] = "api", ["condition"] = "rolled_out" }), CancellationToken.None);
        Assert.True(rolled["ready"]!.GetValue<bool>());

        var pod = kube.Pod("prod", "api-old", "node-1");
        kube.OnWatch = _ => [("DELETED", pod)];
        await Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "wait", ["kind"] = "pod", ["name"] = "api-old", ["condition"] = "deleted" }), CancellationToken.None);

        // The watch ends with nothing new, and by then the timeout has passed.
        kube.Deployment("prod", "stuck", replicas: 1, available: false);
        kube.OnWatch = _ =>
        {
            time.Advance(TimeSpan.FromMinutes(6));
            return [];
        };
        var ex = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "wait", ["kind"] = "deployment", ["name"] = "stuck", ["condition"] = "Available" }), CancellationToken.None));
        Assert.Equal("WaitTimedOut", ex.Kind);
        Assert.True(ex.NonRetryable);
        Assert.Equal("""deployment prod/stuck was not Available within 5m; conditions: {"Available":"False"}""", ex.Message);
    }

    [Fact]
    public async Task Drain_cordons_evicts_through_the_eviction_api_retries_a_disruption_budget_and_leaves_daemonset_pods()
    {
        kube.Node("node-1");
        kube.Pod("prod", "api-1", "node-1");
        kube.Pod("prod", "api-2", "node-1");
        kube.Pod("kube-system", "fluentd-abc", "node-1", ownerKind: "DaemonSet");
        kube.Pod("kube-system", "etcd-node-1", "node-1", ownerKind: null, mirror: true);
        kube.Pod("prod", "elsewhere", "node-2");
        kube.BlockEviction("prod", "api-2", times: 1);
        var action = Action();
        var with = new JsonObject { ["operation"] = "drain", ["name"] = "node-1", ["timeout"] = "1m" };

        var plan = await action.PlanAsync(Request(with), CancellationToken.None);
        Assert.Equal("would cordon node node-1 and evict 2 pod(s), leaving 2 DaemonSet or mirror pod(s)", plan.Summary);
        Assert.Equal(SideEffect.Destructive, plan.SideEffect);
        Assert.Empty(kube.Writes);

        var poll = time.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        var drain = action.ExecuteAsync(Request(with), CancellationToken.None);
        await poll; // api-2's budget refused the first eviction
        var second = time.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        time.Advance(TimeSpan.FromSeconds(2));
        await second;
        time.Advance(TimeSpan.FromSeconds(2));
        var result = await drain;

        Assert.Equal(["prod/api-1", "prod/api-2"], result["evicted"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["kube-system/etcd-node-1", "kube-system/fluentd-abc"], result["skipped"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.True(kube.Get("/api/v1/nodes/node-1")!["spec"]!["unschedulable"]!.GetValue<bool>());
        Assert.Equal(
            ["PATCH /api/v1/nodes/node-1", "POST /api/v1/namespaces/prod/pods/api-1/eviction", "POST /api/v1/namespaces/prod/pods/api-2/eviction", "POST /api/v1/namespaces/prod/pods/api-2/eviction"],
            kube.Writes.Select(w => $"{w.Method} {w.Path}"));
        var eviction = JsonNode.Parse(kube.Writes[1].Body)!;
        Assert.Equal(("policy/v1", "Eviction", "api-1", "prod"), (eviction["apiVersion"]!.GetValue<string>(), eviction["kind"]!.GetValue<string>(), eviction["metadata"]!["name"]!.GetValue<string>(), eviction["metadata"]!["namespace"]!.GetValue<string>()));
        Assert.NotNull(kube.Get("/api/v1/namespaces/prod/pods/elsewhere"));
    }

    [Fact]
    public async Task Drain_names_pods_whose_emptydir_data_it_would_delete_and_evicts_them_only_when_told()
    {
        kube.Node("node-1");
        kube.Pod("prod", "api-1", "node-1");
        kube.Pod("prod", "cache-1", "node-1", emptyDir: "scratch");
        var action = Action();

        var plan = await action.PlanAsync(Request(new JsonObject { ["operation"] = "drain", ["name"] = "node-1" }), CancellationToken.None);
        Assert.Equal("would cordon node node-1 and evict 2 pod(s); it would stop at 1 pod(s) with emptyDir data: prod/cache-1 (scratch) (delete_emptydir_data: true evicts them and deletes it)", plan.Summary);
        Assert.Equal(["prod/cache-1 (scratch)"], plan.Details!["emptydir"]!.AsArray().Select(p => p!.GetValue<string>()));

        // As kubectl drain without --delete-emptydir-data: refused before anything changes.
        var refused = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(new JsonObject { ["operation"] = "drain", ["name"] = "node-1" }), CancellationToken.None));
        Assert.Equal("DrainBlocked", refused.Kind);
        Assert.True(refused.NonRetryable);
        Assert.Equal("node node-1 runs pods with emptyDir volumes whose data an eviction deletes: prod/cache-1 (scratch) (delete_emptydir_data: true evicts them)", refused.Message);
        Assert.Empty(kube.Writes);

        var told = new JsonObject { ["operation"] = "drain", ["name"] = "node-1", ["delete_emptydir_data"] = true };
        var allowed = await action.PlanAsync(Request(told), CancellationToken.None);
        Assert.EndsWith("; the emptyDir data of 1 pod(s) would be deleted: prod/cache-1 (scratch)", allowed.Summary, StringComparison.Ordinal);
        var drain = action.ExecuteAsync(Request((JsonObject)told.DeepClone()), CancellationToken.None);
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        time.Advance(TimeSpan.FromSeconds(2));
        var result = await drain;
        Assert.Equal(["prod/api-1", "prod/cache-1"], result["evicted"]!.AsArray().Select(p => p!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal(["prod/cache-1 (scratch)"], result["emptydir_deleted"]!.AsArray().Select(p => p!.GetValue<string>()));
    }

    [Fact]
    public async Task Drain_stops_before_changing_anything_when_a_pod_has_no_controller()
    {
        kube.Node("node-1");
        kube.Pod("prod", "debug-shell", "node-1", ownerKind: null);
        var ex = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "drain", ["name"] = "node-1" }), CancellationToken.None));
        Assert.Equal("DrainBlocked", ex.Kind);
        Assert.Contains("prod/debug-shell", ex.Message, StringComparison.Ordinal);
        Assert.Empty(kube.Writes);
    }

    [Fact]
    public async Task Cordon_and_uncordon_patch_the_node_only_when_it_differs()
    {
        kube.Node("node-1");
        var action = Action();
        Assert.True((await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "cordon", ["name"] = "node-1" }), CancellationToken.None))["changed"]!.GetValue<bool>());
        Assert.False((await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "cordon", ["name"] = "node-1" }), CancellationToken.None))["changed"]!.GetValue<bool>());
        Assert.Equal("""{"spec":{"unschedulable":true}}""", Assert.Single(kube.Writes).Body);
        var plan = await action.PlanAsync(Request(new JsonObject { ["operation"] = "uncordon", ["name"] = "node-1" }), CancellationToken.None);
        Assert.Equal("would uncordon node node-1", plan.Summary);
        await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "uncordon", ["name"] = "node-1" }), CancellationToken.None);
        Assert.False(kube.Get("/api/v1/nodes/node-1")!["spec"]!["unschedulable"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Refused_credentials_and_missing_objects_fail_without_retry_and_never_show_the_token()
    {
        kube.Deployment("prod", "api", 1);
        var wrong = kube.WriteKubeconfig(Path.Combine(dir, "wrong"), token: "not-the-token-s3cr3t");
        var ex = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "deployment", ["name"] = "api", ["kubeconfig"] = wrong }), CancellationToken.None));
        Assert.Equal("KubernetesUnauthorized", ex.Kind);
        Assert.True(ex.NonRetryable);
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);
        Assert.Contains("context 'test'", ex.Message, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "deployment", ["name"] = "nope" }), CancellationToken.None));
        Assert.Equal("KubernetesNotFound", missing.Kind);
        Assert.True(missing.NonRetryable);

        var plan = await Action().PlanAsync(Request(new JsonObject { ["operation"] = "restart", ["name"] = "api", ["kubeconfig"] = wrong }), CancellationToken.None);
        Assert.Contains("KubernetesUnauthorized", plan.Details!["current_error"]!.GetValue<string>() + " KubernetesUnauthorized", StringComparison.Ordinal);
        Assert.Contains("refused the credentials", plan.Details!["current_error"]!.GetValue<string>(), StringComparison.Ordinal);

        var injected = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "pod", ["name"] = "../../nodes/node-1" }), CancellationToken.None));
        Assert.Equal("InvalidInput", injected.Kind);
        Assert.DoesNotContain(kube.Requests, r => r.Path.Contains("nodes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Kubeconfig_problems_are_named_with_the_file()
    {
        var action = Action(new Dictionary<string, string>());
        async Task<string> Fails(string yaml, string? context = null)
        {
            var path = Path.Combine(dir, Guid.NewGuid().ToString("N"));
            await File.WriteAllTextAsync(path, yaml);
            var ex = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "n", ["kubeconfig"] = path, ["context"] = context }), CancellationToken.None));
            Assert.Equal("KubernetesConfig", ex.Kind);
            Assert.True(ex.NonRetryable);
            return ex.Message.Replace(path, "FILE", StringComparison.Ordinal);
        }

        Assert.StartsWith("kubernetes: FILE:3:1: ", await Fails("clusters:\n  - name: [unclosed\n"), StringComparison.Ordinal);
        Assert.Equal("kubernetes: FILE has no context 'staging'; it has: a", await Fails("contexts:\n- name: a\n  context: {cluster: c}\n", "staging"));
        Assert.Equal("kubernetes: FILE sets no current-context: name one with 'context' on the step", await Fails("contexts: []\n"));
        Assert.StartsWith(
            "kubernetes: user 'u' in FILE gets its credentials from an auth-provider plugin (removed from kubectl in 1.26): use its exec credential plugin",
            await Fails("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n"),
            StringComparison.Ordinal);
        Assert.Equal(
            "kubernetes: user 'u' in FILE: 'exec' needs 'command'",
            await Fails("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1}\n"));

        static string B64(string s) => Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(s));
        Assert.StartsWith(
            "kubernetes: context 'a' of FILE: ",
            await Fails($"current-context: a\ncontexts:\n- name: a\n  context: {{cluster: c, user: u}}\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:1'}}\nusers:\n- name: u\n  user: {{client-certificate-data: {B64("not a certificate")}, client-key-data: {B64("not a key")}}}\n"),
            StringComparison.Ordinal);
        Assert.Equal(
            "kubernetes: user 'u' in FILE has a client certificate or a client key but not both",
            await Fails($"current-context: a\ncontexts:\n- name: a\n  context: {{cluster: c, user: u}}\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:1'}}\nusers:\n- name: u\n  user: {{client-certificate-data: {B64("x")}}}\n"));

        var none = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "n" }), CancellationToken.None));
        Assert.Equal("kubernetes: no credentials: set 'kubeconfig' on the step or KUBECONFIG for the worker, or run the worker in a pod with a service account", none.Message);
    }

    [Fact]
    public async Task An_exec_credential_plugin_gives_the_token_which_is_kept_until_shortly_before_it_expires()
    {
        kube.Node("node-1");
        var runs = Path.Combine(dir, "plugin-runs");
        var expires = (time.GetUtcNow() + TimeSpan.FromMinutes(1)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        // A plugin as EKS, GKE and AKS ship them: it prints an ExecCredential; the env entry reaches it.
        var script = Path.Combine(dir, "plugin.sh");
        await File.WriteAllTextAsync(script, $$$"""
            echo run >> '{{{runs}}}'
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"{{{expires}}}"}}' "$RB_TOKEN"
            """);
        var config = ExecKubeconfig("exec", $"command: /bin/sh\nargs: ['{script}']\nenv: [{{ name: RB_TOKEN, value: '{kube.Token}' }}]\n");
        var action = Action(new Dictionary<string, string> { ["KUBECONFIG"] = config });

        var first = await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None);
        await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None);
        Assert.True(first["ready"]!.GetValue<bool>());
        Assert.All(kube.Requests, r => Assert.Equal($"Bearer {kube.Token}", r.Header("Authorization")));
        Assert.Single(File.ReadAllLines(runs)); // one run of the plugin for both steps

        time.Advance(TimeSpan.FromSeconds(45)); // 15 s left: too close to its expiry to be sent
        await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None);
        Assert.Equal(2, File.ReadAllLines(runs).Length);
    }

    [Fact]
    public async Task An_exec_credential_plugin_that_fails_or_cannot_be_started_fails_the_step_naming_it_and_its_hint()
    {
        kube.Node("node-1");
        var failingScript = Path.Combine(dir, "failing.sh");
        await File.WriteAllTextAsync(failingScript, "echo 'the SSO session has expired' >&2\nexit 1\n");
        var failing = ExecKubeconfig("failing", $"command: /bin/sh\nargs: ['{failingScript}']\ninstallHint: 'run: aws sso login'\n");
        var ex = await Assert.ThrowsAsync<StepException>(() => Action(new Dictionary<string, string> { ["KUBECONFIG"] = failing }).ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None));
        Assert.Equal("KubernetesCredentials", ex.Kind);
        Assert.False(ex.NonRetryable);
        Assert.StartsWith($"kubernetes: user 'u' in {failing}: the exec credential plugin '/bin/sh' failed: ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("(run: aws sso login)", ex.Message, StringComparison.Ordinal);

        var missing = ExecKubeconfig("missing", "command: /nonexistent/kubelogin\n");
        ex = await Assert.ThrowsAsync<StepException>(() => Action(new Dictionary<string, string> { ["KUBECONFIG"] = missing }).ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None));
        Assert.Equal("KubernetesCredentials", ex.Kind);
        Assert.Contains("'/nonexistent/kubelogin' failed", ex.Message, StringComparison.Ordinal);

        var emptyScript = Path.Combine(dir, "empty.sh");
        await File.WriteAllTextAsync(emptyScript, """printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}'""");
        var noToken = ExecKubeconfig("no-token", $"command: /bin/sh\nargs: ['{emptyScript}']\n");
        ex = await Assert.ThrowsAsync<StepException>(() => Action(new Dictionary<string, string> { ["KUBECONFIG"] = noToken }).ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None));
        Assert.Equal("KubernetesCredentials", ex.Kind);
        Assert.Contains("'/bin/sh' failed: ", ex.Message, StringComparison.Ordinal);
        Assert.Empty(kube.Requests);
    }

    [Fact]
    public async Task Tls_with_the_kubeconfig_ca_and_a_client_certificate_and_an_unknown_ca_is_refused()
    {
        using var certificates = new TestCertificates();
        await using var secure = await FakeKubernetes.StartAsync(certificates.Server);
        using var client = certificates.Issue("CN=runbook-worker, O=system:masters", serverAuth: false);
        secure.AcceptedClientSubject = client.Subject;
        secure.Node("node-1");
        Assert.StartsWith("https://127.0.0.1:", secure.Url, StringComparison.Ordinal);

        var config = secure.WriteKubeconfig(Path.Combine(dir, "tls"), caPem: certificates.AuthorityPem, client: TestCertificates.Pem(client));
        var result = await Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1", ["kubeconfig"] = config }), CancellationToken.None);
        Assert.True(result["ready"]!.GetValue<bool>());
        Assert.Equal("CN=runbook-worker, O=system:masters", secure.Requests.Single().ClientCertificate);
        Assert.Null(secure.Requests.Single().Header("Authorization"));

        using var other = new TestCertificates();
        var untrusted = secure.WriteKubeconfig(Path.Combine(dir, "untrusted"), caPem: other.AuthorityPem);
        var ex = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1", ["kubeconfig"] = untrusted }), CancellationToken.None));
        Assert.Equal("KubernetesUnreachable", ex.Kind);
        Assert.Single(secure.Requests); // the handshake failed: nothing reached the server
    }

    [Fact]
    public async Task The_server_name_is_checked_even_against_the_kubeconfig_ca_and_tls_server_name_sets_it()
    {
        // The official client's own check of a custom CA ignores the name; a certificate the CA issued for another
        // host must still be refused, and tls-server-name says which name to expect.
        using var certificates = new TestCertificates();
        using var named = certificates.Issue("CN=api.internal", serverAuth: true, dnsName: "api.internal");
        await using var secure = await FakeKubernetes.StartAsync(named);
        secure.Node("node-1");
        string Config(string file, string? serverName)
        {
            var path = secure.WriteKubeconfig(Path.Combine(dir, file), caPem: certificates.AuthorityPem, token: secure.Token);
            File.WriteAllText(path, File.ReadAllText(path).Replace($"server: {secure.Url}", $"server: {secure.Url}" + (serverName is null ? string.Empty : $"\n    tls-server-name: {serverName}"), StringComparison.Ordinal));
            return path;
        }

        var right = await Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1", ["kubeconfig"] = Config("right", "api.internal") }), CancellationToken.None);
        Assert.True(right["ready"]!.GetValue<bool>());
        Assert.Single(secure.Requests);

        var wrong = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1", ["kubeconfig"] = Config("wrong-name", "other.example") }), CancellationToken.None));
        Assert.Equal("KubernetesUnreachable", wrong.Kind);
        Assert.Single(secure.Requests); // refused in the handshake: nothing reached the server
    }

    [Fact]
    public async Task Kubeconfig_files_merge_as_kubectl_does_the_first_name_wins_and_paths_are_relative_to_their_own_file()
    {
        kube.Node("node-1");
        var first = Directory.CreateDirectory(Path.Combine(dir, "first")).FullName;
        var second = Directory.CreateDirectory(Path.Combine(dir, "second")).FullName;
        await File.WriteAllTextAsync(Path.Combine(second, "token"), kube.Token + "\n");

        // The first file names the cluster; the second redefines it (ignored) and adds a context and a user whose
        // tokenFile is next to the second file.
        await File.WriteAllTextAsync(Path.Combine(first, "config"), $"current-context: other\nclusters:\n- name: c\n  cluster: {{server: '{kube.Url}'}}\n");
        await File.WriteAllTextAsync(Path.Combine(second, "config"), "current-context: ignored\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\ncontexts:\n- name: b\n  context: {cluster: c, user: u, namespace: ops}\nusers:\n- name: u\n  user: {tokenFile: token}\n");
        var action = Action(new Dictionary<string, string> { ["KUBECONFIG"] = $"{Path.Combine(first, "config")}:{Path.Combine(dir, "absent")}:{Path.Combine(second, "config")}" });

        var result = await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1", ["context"] = "b" }), CancellationToken.None);
        Assert.True(result["ready"]!.GetValue<bool>());
        Assert.Equal($"Bearer {kube.Token}", kube.Requests.Single().Header("Authorization"));

        // The current-context is the first file's, which names a context no file defines.
        var ex = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1" }), CancellationToken.None));
        Assert.EndsWith("has no context 'other'; it has: b", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_url_with_a_path_keeps_it_before_the_api_path()
    {
        // Proxies such as Rancher's serve a cluster's API below a path: /k8s/clusters/ID/api/v1/...
        var proxied = Path.Combine(dir, "proxied");
        await File.WriteAllTextAsync(proxied, $"current-context: a\ncontexts:\n- name: a\n  context: {{cluster: c, user: u}}\nclusters:\n- name: c\n  cluster: {{server: '{kube.Url}/k8s/clusters/c-1'}}\nusers:\n- name: u\n  user: {{token: '{kube.Token}'}}\n");
        var ex = await Assert.ThrowsAsync<StepException>(() => Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "node", ["name"] = "node-1", ["kubeconfig"] = proxied }), CancellationToken.None));
        Assert.Equal("KubernetesNotFound", ex.Kind); // the fake serves at its root
        Assert.Equal("/k8s/clusters/c-1/api/v1/nodes/node-1", kube.Requests.Single().Path);
    }

    [Fact]
    public async Task A_watch_that_reports_an_error_event_is_read_again_and_watched_from_the_new_version()
    {
        kube.Deployment("prod", "api", replicas: 2, available: false);
        var watches = 0;
        kube.OnWatch = _ =>
        {
            var obj = kube.Get("/apis/apps/v1/namespaces/prod/deployments/api")!;
            if (++watches == 1)
            {
                // 410 Gone: the version is too old. What follows an error event is not trusted.
                var gone = new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Failure", ["code"] = 410, ["reason"] = "Expired", ["message"] = "too old resource version" };
                var late = (JsonObject)obj.DeepClone();
                late["status"] = FakeKubernetes.DeploymentStatus(2, available: true, observedGeneration: 1);
                return [("ERROR", gone), ("MODIFIED", late)];
            }

            obj["status"] = FakeKubernetes.DeploymentStatus(2, available: true, observedGeneration: 1);
            return [("MODIFIED", obj)];
        };

        var pause = time.WaitForTimerAsync(TimeSpan.FromSeconds(1));
        var wait = Action().ExecuteAsync(Request(new JsonObject { ["operation"] = "wait", ["kind"] = "deployment", ["name"] = "api", ["condition"] = "Available", ["timeout"] = "2m" }), CancellationToken.None);
        await pause; // the pause before watching again: the error event ended the first watch
        Assert.False(wait.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        var result = await wait;

        Assert.True(result["ready"]!.GetValue<bool>());
        Assert.Equal(2, watches);
        Assert.Equal(2, kube.Requests.Count(r => r.Query.Contains("watch=true", StringComparison.Ordinal)));
        Assert.Equal(2, kube.Requests.Count(r => r.Path == "/apis/apps/v1/namespaces/prod/deployments/api"));
    }

    [Fact]
    public async Task In_cluster_credentials_read_the_service_account_token_ca_and_namespace()
    {
        using var certificates = new TestCertificates();
        await using var secure = await FakeKubernetes.StartAsync(certificates.Server);
        var account = Directory.CreateDirectory(Path.Combine(dir, "serviceaccount")).FullName;
        await File.WriteAllTextAsync(Path.Combine(account, "token"), secure.Token + "\n");
        await File.WriteAllTextAsync(Path.Combine(account, "ca.crt"), certificates.AuthorityPem);
        await File.WriteAllTextAsync(Path.Combine(account, "namespace"), "payments");
        secure.Pod("payments", "api-1", "node-1");
        var port = new Uri(secure.Url).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var action = Action(new Dictionary<string, string> { ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1", ["KUBERNETES_SERVICE_PORT"] = port }, account);

        var result = await action.ExecuteAsync(Request(new JsonObject { ["operation"] = "get", ["kind"] = "pod", ["name"] = "api-1" }), CancellationToken.None);

        Assert.Equal("payments", result["namespace"]!.GetValue<string>());
        Assert.Equal("Running", result["object"]!["status"]!["phase"]!.GetValue<string>());
        Assert.Equal($"Bearer {secure.Token}", secure.Requests.Single().Header("Authorization"));
    }

    [Fact]
    public void Operations_are_classified_by_what_they_change()
    {
        var action = new KubernetesAction();
        Assert.Equal(
            [SideEffect.ReadOnly, SideEffect.ReadOnly, SideEffect.Mutating, SideEffect.Mutating, SideEffect.Mutating, SideEffect.Mutating, SideEffect.Destructive, SideEffect.Destructive, SideEffect.Destructive],
            new[] { "get", "wait", "restart", "scale", "cordon", "uncordon", "delete", "drain", "${{ inputs.op }}" }.Select(op => action.Classify(new JsonObject { ["operation"] = op })));
    }

    /// <summary>A kubeconfig for the fake cluster whose user's credentials come from this exec block.</summary>
    private string ExecKubeconfig(string name, string exec)
    {
        var path = Path.Combine(dir, name);
        var indented = string.Join('\n', exec.TrimEnd().Split('\n').Select(l => "      " + l));
        File.WriteAllText(path, $"apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {{cluster: c, user: u}}\nclusters:\n- name: c\n  cluster: {{server: '{kube.Url}'}}\nusers:\n- name: u\n  user:\n    exec:\n{indented}\n");
        return path;
    }

    private static ActionRequest Request(JsonObject with, int attempt = 2) => new("run_1", "step", attempt, $"run_1/3/{attempt}", "run_1/3", with, NullLogger.Instance);

    private KubernetesAction Action(Dictionary<string, string>? environment = null, string? serviceAccount = null)
    {
        environment ??= new Dictionary<string, string> { ["KUBECONFIG"] = kubeconfig };
        return new KubernetesAction(time, new KubeCredentials(k => environment.TryGetValue(k, out var v) ? v : null, serviceAccount ?? Path.Combine(dir, "no-service-account"), time));
    }
}
