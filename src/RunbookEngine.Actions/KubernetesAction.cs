using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Actions.Kubernetes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// Kubernetes through its REST API: read or wait for a resource, restart a rollout, scale, delete a pod, cordon,
/// uncordon and drain a node. Credentials come from a kubeconfig or the pod's service account (see
/// <see cref="KubeCredentials"/>). Plans only read: they show the current state next to the intended one.
/// </summary>
public sealed class KubernetesAction : IRunbookAction
{
    /// <summary>The pod-template annotation that records which step restarted a workload, so a retried attempt does not restart it twice.</summary>
    public const string RestartKeyAnnotation = "runbookengine.io/restart-key";

    private const string RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan DrainPoll = TimeSpan.FromSeconds(2);

    private static readonly string[] Operations = ["get", "wait", "restart", "scale", "delete", "cordon", "uncordon", "drain"];

    private readonly TimeProvider time;
    private readonly KubeCredentials credentials;

    /// <summary>Initializes a new instance of the <see cref="KubernetesAction"/> class with the worker's credentials and clock.</summary>
    public KubernetesAction()
        : this(TimeProvider.System, KubeCredentials.System)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="KubernetesAction"/> class.</summary>
    /// <param name="time">The clock for timeouts and the restart annotation.</param>
    /// <param name="credentials">Where credentials are looked for.</param>
    internal KubernetesAction(TimeProvider time, KubeCredentials credentials)
    {
        this.time = time;
        this.credentials = credentials;
    }

    /// <inheritdoc/>
    public string Name => "kubernetes";

    /// <inheritdoc/>
    public string Description => "Kubernetes: get or wait for a resource, restart a rollout, scale, delete a pod, cordon, uncordon or drain a node.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.Destructive;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("operation", ParameterType.String, true, "get, wait, restart (rollout restart), scale, delete (a pod), cordon, uncordon or drain (a node).", Operations),
        new("kind", ParameterType.String, false, "The resource kind; default deployment for restart and scale, pod for delete, node for cordon, uncordon and drain.", [.. KubeKind.All.Keys.Order(StringComparer.Ordinal)]),
        new("name", ParameterType.String, true, "The resource's name."),
        new("namespace", ParameterType.String, false, "The namespace; default the kubeconfig context's, or the service account's, or 'default'."),
        new("replicas", ParameterType.Number, false, "scale: the replica count wanted."),
        new("condition", ParameterType.String, false, "wait: a status condition type that must be True (Available, Ready, ...), rolled_out (a deployment, statefulset or daemonset fully updated and available) or deleted."),
        new("timeout", ParameterType.String, false, "wait and drain: how long to wait (default 5m), e.g. 90s."),
        new("grace_period", ParameterType.Number, false, "delete and drain: seconds a pod gets to stop; default the pod's own."),
        new("force", ParameterType.Boolean, false, "drain: also evict pods that no controller will recreate (default false: the drain stops and names them)."),
        new("delete_emptydir_data", ParameterType.Boolean, false, "drain: also evict pods with emptyDir volumes, whose data is deleted with them (default false: the drain stops and names them, as kubectl drain does without --delete-emptydir-data)."),
        new("kubeconfig", ParameterType.String, false, "A kubeconfig file; default (or empty) KUBECONFIG, then ~/.kube/config, then the pod's service account."),
        new("context", ParameterType.String, false, "The kubeconfig context; default (or empty) its current-context."),
        new("in_cluster", ParameterType.Boolean, false, "Use the pod's service account even when a kubeconfig exists."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["kind", "name", "namespace", "changed", "object", "conditions", "ready", "from", "to", "evicted", "skipped", "emptydir_deleted"];

    /// <inheritdoc/>
    public SideEffect Classify(JsonObject with)
    {
        ArgumentNullException.ThrowIfNull(with);
        return With.String(with, "operation") switch
        {
            "get" or "wait" => SideEffect.ReadOnly,
            "restart" or "scale" or "cordon" or "uncordon" => SideEffect.Mutating,
            _ => SideEffect.Destructive,
        };
    }

    /// <inheritdoc/>
    public async Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var op = Operation(request.With);
        var kind = KindFor(op, request.With);
        var name = KubeKind.CheckName(With.RequiredString(request.With, "name", Name), "name");
        var details = new JsonObject();
        string? ns = null;
        string summary;
        try
        {
            var client = Client(request.With);
            ns = Namespace(request.With, client);
            details["server"] = client.Cluster.Server.GetLeftPart(UriPartial.Authority);
            var current = await client.TryGetAsync(kind.Path(ns, name), cancellationToken).ConfigureAwait(false);
            details["exists"] = current is not null;
            summary = op switch
            {
                "get" => $"would read {kind.Describe(ns, name)}",
                "wait" => $"would wait up to {Durations.Format(Timeout(request.With))} for {kind.Describe(ns, name)} to be {Condition(request.With)}" + (current is null ? " (it does not exist now)" : Satisfied(kind, current, Condition(request.With)) ? " (it is now)" : " (it is not now)"),
                "restart" => $"would restart {kind.Describe(ns, name)}: its pods are replaced one by one",
                "scale" => $"would scale {kind.Describe(ns, name)} from {(current is null ? "?" : Replicas(current))} to {RequiredReplicas(request.With)} replicas",
                "delete" => $"would delete {kind.Describe(ns, name)}" + (current?["spec"]?["nodeName"] is JsonValue node ? $" (on node {node})" : string.Empty),
                "cordon" or "uncordon" => $"would {op} {kind.Describe(ns, name)}" + (current is null ? string.Empty : Unschedulable(current) == (op == "cordon") ? $" (it is already {(op == "cordon" ? "cordoned" : "schedulable")})" : string.Empty),
                _ => await PlanDrainAsync(client, name, request.With, details, cancellationToken).ConfigureAwait(false),
            };
            if (current is not null)
            {
                details["current"] = Summary(kind, current);
            }

            if (op == "scale")
            {
                details["intended"] = new JsonObject { ["replicas"] = RequiredReplicas(request.With) };
            }
        }
        catch (StepException ex) when (ex.Kind != "InvalidInput")
        {
            details["current_error"] = ex.Message;
            summary = $"would {op} {kind.Describe(ns ?? With.String(request.With, "namespace") ?? "?", name)}";
        }

        return new ActionPlan(Name, op, kind.Describe(ns ?? With.String(request.With, "namespace") ?? "?", name), summary, Classify(request.With), details);
    }

    /// <inheritdoc/>
    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var op = Operation(request.With);
        var kind = KindFor(op, request.With);
        var name = KubeKind.CheckName(With.RequiredString(request.With, "name", Name), "name");
        var client = Client(request.With);
        var ns = Namespace(request.With, client);
        var result = With.Object(("kind", kind.Name), ("name", name), ("namespace", kind.Namespaced ? ns : null), ("changed", false));
        switch (op)
        {
            case "get":
                Describe(result, kind, await client.GetAsync(kind.Path(ns, name), cancellationToken).ConfigureAwait(false));
                break;
            case "wait":
                await WaitAsync(client, kind, ns, name, Condition(request.With), Timeout(request.With), result, cancellationToken).ConfigureAwait(false);
                break;
            case "restart":
                await RestartAsync(client, kind, ns, name, request.StepKey, result, cancellationToken).ConfigureAwait(false);
                break;
            case "scale":
                await ScaleAsync(client, kind, ns, name, RequiredReplicas(request.With), result, cancellationToken).ConfigureAwait(false);
                break;
            case "delete":
                await DeleteAsync(client, kind, ns, name, GracePeriod(request.With), result, cancellationToken).ConfigureAwait(false);
                break;
            case "cordon" or "uncordon":
                result["changed"] = await SetUnschedulableAsync(client, name, op == "cordon", cancellationToken).ConfigureAwait(false);
                break;
            default:
                await DrainAsync(client, name, request.With, result, cancellationToken).ConfigureAwait(false);
                break;
        }

        return result;
    }

    private static StepException Invalid(string message) => new("InvalidInput", "kubernetes: " + message, nonRetryable: true);

    private static string Operation(JsonObject with)
    {
        var op = With.RequiredString(with, "operation", "kubernetes");
        return Operations.Contains(op, StringComparer.Ordinal) ? op : throw Invalid($"unknown operation '{op}'; operations: {string.Join(", ", Operations)}");
    }

    private static KubeKind KindFor(string op, JsonObject with)
    {
        var (fallback, allowed) = op switch
        {
            "restart" => ("deployment", new[] { "deployment", "statefulset", "daemonset" }),
            "scale" => ("deployment", ["deployment", "statefulset", "replicaset"]),
            "delete" => ("pod", ["pod"]),
            "cordon" or "uncordon" or "drain" => ("node", ["node"]),
            _ => (null, null),
        };
        var name = With.String(with, "kind") ?? fallback ?? throw Invalid($"'{op}' needs a 'kind' (one of {string.Join(", ", KubeKind.All.Keys.Order(StringComparer.Ordinal))})");
        if (!KubeKind.All.TryGetValue(name, out var kind))
        {
            throw Invalid($"unknown kind '{name}'; kinds: {string.Join(", ", KubeKind.All.Keys.Order(StringComparer.Ordinal))}");
        }

        return allowed is null || allowed.Contains(name, StringComparer.Ordinal) ? kind : throw Invalid($"'{op}' applies to {string.Join(", ", allowed)}, not {name}");
    }

    private static string Condition(JsonObject with) =>
        With.String(with, "condition") is { Length: > 0 } c ? c : throw Invalid("'wait' needs a 'condition': a condition type (Available, Ready, ...), rolled_out or deleted");

    private static TimeSpan Timeout(JsonObject with) => With.Duration(with, "timeout", DefaultTimeout, "kubernetes");

    private static int RequiredReplicas(JsonObject with)
    {
        var n = with["replicas"] is null ? throw Invalid("'scale' needs 'replicas'") : With.Number(with["replicas"], "replicas");
        return n is >= 0 and <= 100_000 && n == Math.Floor(n) ? (int)n : throw Invalid($"'replicas' must be a whole number from 0, got {n.ToString(CultureInfo.InvariantCulture)}");
    }

    private static int? GracePeriod(JsonObject with)
    {
        if (with["grace_period"] is null)
        {
            return null;
        }

        var n = With.Number(with["grace_period"], "grace_period");
        return n is >= 0 and <= 86_400 ? (int)n : throw Invalid("'grace_period' must be from 0 to 86400 seconds");
    }

    private static long Replicas(JsonObject obj) => obj["spec"]?["replicas"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 1;

    private static long Long(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;

    private static bool Unschedulable(JsonObject node) => node["spec"]?["unschedulable"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private static JsonObject Conditions(JsonObject obj)
    {
        var conditions = new JsonObject();
        foreach (var c in (obj["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (c["type"] is JsonValue t && t.TryGetValue<string>(out var type))
            {
                conditions[type] = c["status"]?.DeepClone();
            }
        }

        return conditions;
    }

    private static bool RolledOut(KubeKind kind, JsonObject obj)
    {
        var status = obj["status"] as JsonObject ?? [];
        if (Long(status["observedGeneration"]) < Long(obj["metadata"]?["generation"]))
        {
            return false;
        }

        var wanted = Replicas(obj);
        return kind.Name switch
        {
            "deployment" => Long(status["updatedReplicas"]) == wanted && Long(status["replicas"]) == wanted && Long(status["availableReplicas"]) == wanted,
            "statefulset" => Long(status["updatedReplicas"]) == wanted && Long(status["readyReplicas"]) == wanted,
            "daemonset" => Long(status["updatedNumberScheduled"]) == Long(status["desiredNumberScheduled"]) && Long(status["numberAvailable"]) == Long(status["desiredNumberScheduled"]),
            _ => throw Invalid($"rolled_out applies to deployments, statefulsets and daemonsets, not {kind.Name}"),
        };
    }

    private static bool Satisfied(KubeKind kind, JsonObject? obj, string condition) => condition switch
    {
        "deleted" => obj is null,
        _ when obj is null => false,
        "rolled_out" => RolledOut(kind, obj),
        _ => Conditions(obj)[condition] is JsonValue v && v.TryGetValue<string>(out var s) && s == "True",
    };

    private static bool Ready(KubeKind kind, JsonObject obj) => kind.Restartable
        ? RolledOut(kind, obj)
        : Conditions(obj)[kind.Name is "pod" or "node" ? "Ready" : "Available"] is JsonValue v ? v.TryGetValue<string>(out var s) && s == "True" : obj["status"]?["phase"]?.ToString() is null or "Active" or "Bound";

    /// <summary>What a plan or a result shows of an object: enough to judge it, without the bulk.</summary>
    private static JsonObject Summary(KubeKind kind, JsonObject obj)
    {
        var summary = new JsonObject { ["ready"] = Ready(kind, obj), ["conditions"] = Conditions(obj) };
        if (kind.Scalable || kind.Restartable)
        {
            summary["replicas"] = Replicas(obj);
            summary["ready_replicas"] = Long(obj["status"]?["readyReplicas"] ?? obj["status"]?["numberReady"]);
        }

        if (kind.Name == "node")
        {
            summary["unschedulable"] = Unschedulable(obj);
        }

        if (obj["status"]?["phase"] is JsonValue phase)
        {
            summary["phase"] = phase.DeepClone();
        }

        return summary;
    }

    private static void Describe(JsonObject result, KubeKind kind, JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        (copy["metadata"] as JsonObject)?.Remove("managedFields"); // bookkeeping, often larger than the object
        result["object"] = copy;
        result["conditions"] = Conditions(obj);
        result["ready"] = Ready(kind, obj);
    }

    private static async Task<bool> SetUnschedulableAsync(KubeClient client, string node, bool unschedulable, CancellationToken cancellationToken)
    {
        var kind = KubeKind.All["node"];
        var current = await client.GetAsync(kind.Path(string.Empty, node), cancellationToken).ConfigureAwait(false);
        if (Unschedulable(current) == unschedulable)
        {
            return false;
        }

        await client.SendAsync(HttpMethod.Patch, kind.Path(string.Empty, node), new JsonObject { ["spec"] = new JsonObject { ["unschedulable"] = unschedulable } }, KubeClient.MergePatch, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static async Task DeleteAsync(KubeClient client, KubeKind kind, string ns, string name, int? grace, JsonObject result, CancellationToken cancellationToken)
    {
        var options = new JsonObject { ["kind"] = "DeleteOptions", ["apiVersion"] = "v1" };
        if (grace is { } g)
        {
            options["gracePeriodSeconds"] = g;
        }

        var (status, _) = await client.SendAsync(HttpMethod.Delete, kind.Path(ns, name), options, "application/json", cancellationToken).ConfigureAwait(false);
        if (status == 429)
        {
            throw new StepException("KubernetesUnavailable", $"deleting {kind.Describe(ns, name)}: the API server is throttling (429)");
        }

        // 404: gone already (a retried attempt whose first try deleted it, or someone else did): the goal holds.
        result["changed"] = status != 404;
    }

    private static async Task ScaleAsync(KubeClient client, KubeKind kind, string ns, string name, int replicas, JsonObject result, CancellationToken cancellationToken)
    {
        var path = kind.Path(ns, name) + "/scale";
        var scale = await client.GetAsync(path, cancellationToken).ConfigureAwait(false);
        var from = Replicas(scale);
        result["from"] = from;
        result["to"] = replicas;
        if (from == replicas)
        {
            return;
        }

        var (status, _) = await client.SendAsync(HttpMethod.Patch, path, new JsonObject { ["spec"] = new JsonObject { ["replicas"] = replicas } }, KubeClient.MergePatch, cancellationToken).ConfigureAwait(false);
        if (status is 404 or 429)
        {
            throw new StepException(status == 404 ? "KubernetesNotFound" : "KubernetesUnavailable", $"scaling {kind.Describe(ns, name)}: {(status == 404 ? "it no longer exists" : "the API server is throttling (429)")}", nonRetryable: status == 404);
        }

        result["changed"] = true;
    }

    private KubeClient Client(JsonObject with) =>
        new(credentials.Load(With.String(with, "kubeconfig") is { Length: > 0 } k ? k : null, With.String(with, "context") is { Length: > 0 } c ? c : null, with["in_cluster"] is JsonValue v && v.TryGetValue<bool>(out var b) && b), time);

    private static string Namespace(JsonObject with, KubeClient client) =>
        KubeKind.CheckName(With.String(with, "namespace") is { Length: > 0 } ns ? ns : client.Cluster.Namespace, "namespace");

    private async Task RestartAsync(KubeClient client, KubeKind kind, string ns, string name, string stepKey, JsonObject result, CancellationToken cancellationToken)
    {
        var path = kind.Path(ns, name);
        var current = await client.GetAsync(path, cancellationToken).ConfigureAwait(false);
        if (current["spec"]?["template"]?["metadata"]?["annotations"]?[RestartKeyAnnotation] is JsonValue done && done.TryGetValue<string>(out var key) && key == stepKey)
        {
            Describe(result, kind, current); // an earlier attempt of this step restarted it: once is what was asked
            return;
        }

        var annotations = new JsonObject
        {
            [RestartedAtAnnotation] = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            [RestartKeyAnnotation] = stepKey,
        };
        var patch = new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = annotations } } } };
        var (status, patched) = await client.SendAsync(HttpMethod.Patch, path, patch, KubeClient.MergePatch, cancellationToken).ConfigureAwait(false);
        if (status is 404 or 429)
        {
            throw new StepException(status == 404 ? "KubernetesNotFound" : "KubernetesUnavailable", $"restarting {kind.Describe(ns, name)}: {(status == 404 ? "it no longer exists" : "the API server is throttling (429)")}", nonRetryable: status == 404);
        }

        Describe(result, kind, patched);
        result["changed"] = true;
    }

    private async Task WaitAsync(KubeClient client, KubeKind kind, string ns, string name, string condition, TimeSpan timeout, JsonObject result, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        while (true)
        {
            var obj = await client.TryGetAsync(kind.Path(ns, name), cancellationToken).ConfigureAwait(false);
            if (Satisfied(kind, obj, condition))
            {
                Done(obj);
                return;
            }

            var remaining = deadline - time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                throw TimedOut(obj);
            }

            // Watch from the version just read, so no change between the read and the watch is missed.
            var version = obj?["metadata"]?["resourceVersion"] is JsonValue rv ? rv.ToString() : null;
            using var expiry = new CancellationTokenSource(remaining, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
            try
            {
                // The watch ends on the server's timeout or an error event (e.g. 410 Gone: the version is too old): read again.
                await foreach (var (type, o) in client.WatchAsync(kind, ns, name, version, Math.Max(1, (int)Math.Ceiling(remaining.TotalSeconds)), linked.Token).ConfigureAwait(false))
                {
                    obj = type == "DELETED" ? null : o;
                    if (Satisfied(kind, obj, condition))
                    {
                        Done(obj);
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (expiry.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(obj);
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw TimedOut(obj);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(false); // a watch the server ended at once must not spin
        }

        void Done(JsonObject? obj)
        {
            if (obj is not null)
            {
                Describe(result, kind, obj);
            }
        }

        StepException TimedOut(JsonObject? obj) => new(
            "WaitTimedOut",
            $"{kind.Describe(ns, name)} was not {condition} within {Durations.Format(timeout)}" + (obj is null ? " (it does not exist)" : $"; conditions: {Conditions(obj).ToJsonString()}"),
            nonRetryable: true);
    }

    private async Task<string> PlanDrainAsync(KubeClient client, string node, JsonObject with, JsonObject details, CancellationToken cancellationToken)
    {
        var (evict, skipped, unmanaged, local) = await PodsOnAsync(client, node, cancellationToken).ConfigureAwait(false);
        details["evict"] = new JsonArray([.. evict.Select(p => JsonValue.Create(p.Id))]);
        details["skip"] = new JsonArray([.. skipped.Select(s => JsonValue.Create(s))]);
        details["emptydir"] = new JsonArray([.. local.Select(s => JsonValue.Create(s))]);
        var force = with["force"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        var deleteLocal = DeleteEmptyDirData(with);
        return $"would cordon node {node} and evict {evict.Count} pod(s)" + (skipped.Count > 0 ? $", leaving {skipped.Count} DaemonSet or mirror pod(s)" : string.Empty)
            + (unmanaged.Count > 0 ? force ? $"; {unmanaged.Count} with no controller would be lost: {string.Join(", ", unmanaged)}" : $"; it would stop at {unmanaged.Count} pod(s) with no controller: {string.Join(", ", unmanaged)} (force: true evicts them)" : string.Empty)
            + (local.Count > 0 ? deleteLocal ? $"; the emptyDir data of {local.Count} pod(s) would be deleted: {string.Join(", ", local)}" : $"; it would stop at {local.Count} pod(s) with emptyDir data: {string.Join(", ", local)} (delete_emptydir_data: true evicts them and deletes it)" : string.Empty);
    }

    private async Task DrainAsync(KubeClient client, string node, JsonObject with, JsonObject result, CancellationToken cancellationToken)
    {
        var timeout = Timeout(with);
        var deadline = time.GetUtcNow() + timeout;
        var force = with["force"] is JsonValue f && f.TryGetValue<bool>(out var fb) && fb;
        var grace = GracePeriod(with);
        var (first, _, unmanaged, local) = await PodsOnAsync(client, node, cancellationToken).ConfigureAwait(false);
        if (unmanaged.Count > 0 && !force)
        {
            // Checked before cordoning, so a refused drain changes nothing.
            throw new StepException("DrainBlocked", $"node {node} runs pods no controller would recreate: {string.Join(", ", unmanaged)}; evicting them loses them (force: true does it)", nonRetryable: true);
        }

        if (local.Count > 0 && !DeleteEmptyDirData(with))
        {
            throw new StepException("DrainBlocked", $"node {node} runs pods with emptyDir volumes whose data an eviction deletes: {string.Join(", ", local)} (delete_emptydir_data: true evicts them)", nonRetryable: true);
        }

        result["emptydir_deleted"] = new JsonArray([.. local.Select(s => JsonValue.Create(s))]);

        result["changed"] = await SetUnschedulableAsync(client, node, true, cancellationToken).ConfigureAwait(false);
        var evicted = new JsonArray();
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var (pods, skipped, _, _) = await PodsOnAsync(client, node, cancellationToken).ConfigureAwait(false);
            result["skipped"] = new JsonArray([.. skipped.Select(s => JsonValue.Create(s))]);
            if (pods.Count == 0)
            {
                break;
            }

            var blocked = new List<string>();
            foreach (var pod in pods.Where(p => !p.Terminating && !done.Contains(p.Id)))
            {
                var eviction = new JsonObject
                {
                    ["apiVersion"] = "policy/v1",
                    ["kind"] = "Eviction",
                    ["metadata"] = new JsonObject { ["name"] = pod.Name, ["namespace"] = pod.Namespace },
                };
                if (grace is { } g)
                {
                    eviction["deleteOptions"] = new JsonObject { ["gracePeriodSeconds"] = g };
                }

                var (status, answer) = await client.SendAsync(HttpMethod.Post, KubeKind.All["pod"].Path(pod.Namespace, pod.Name) + "/eviction", eviction, "application/json", cancellationToken).ConfigureAwait(false);
                if (status == 429)
                {
                    blocked.Add($"{pod.Id} ({answer["message"]?.ToString() ?? "a disruption budget allows no eviction now"})"); // tried again next round
                    continue;
                }

                done.Add(pod.Id);
                if (status != 404)
                {
                    evicted.Add(pod.Id);
                    result["changed"] = true;
                }
            }

            result["evicted"] = evicted.DeepClone();
            if (time.GetUtcNow() >= deadline)
            {
                throw new StepException(
                    "DrainTimedOut",
                    $"node {node} still runs {pods.Count} pod(s) after {Durations.Format(timeout)}: {string.Join(", ", pods.Select(p => p.Id))}" + (blocked.Count > 0 ? $"; blocked: {string.Join("; ", blocked)}" : string.Empty),
                    nonRetryable: true);
            }

            await Task.Delay(DrainPoll, time, cancellationToken).ConfigureAwait(false);
        }

        result["evicted"] = evicted;
    }

    private static bool DeleteEmptyDirData(JsonObject with) => with["delete_emptydir_data"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    /// <summary>The pods on a node a drain evicts, those it leaves (DaemonSet and mirror pods), those no controller would recreate, and those whose emptyDir data an eviction deletes (with the volumes' names).</summary>
    private static async Task<(List<(string Namespace, string Name, string Id, bool Terminating)> Evict, List<string> Skipped, List<string> Unmanaged, List<string> EmptyDir)> PodsOnAsync(KubeClient client, string node, CancellationToken cancellationToken)
    {
        var list = await client.GetAsync("/api/v1/pods?fieldSelector=" + Uri.EscapeDataString("spec.nodeName=" + node), cancellationToken).ConfigureAwait(false);
        var evict = new List<(string, string, string, bool)>();
        var skipped = new List<string>();
        var unmanaged = new List<string>();
        var local = new List<string>();
        foreach (var pod in (list["items"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var meta = pod["metadata"] as JsonObject ?? [];
            var ns = meta["namespace"]?.ToString() ?? "default";
            var name = meta["name"]?.ToString() ?? string.Empty;
            var id = $"{ns}/{name}";
            var phase = pod["status"]?["phase"]?.ToString();
            if (phase is "Succeeded" or "Failed")
            {
                continue; // finished: nothing runs there
            }

            var owner = (meta["ownerReferences"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(o => o["controller"] is JsonValue c && c.TryGetValue<bool>(out var isController) && isController);
            if (owner?["kind"]?.ToString() == "DaemonSet" || meta["annotations"]?["kubernetes.io/config.mirror"] is not null)
            {
                skipped.Add(id);
                continue;
            }

            if (owner is null)
            {
                unmanaged.Add(id);
            }

            var emptyDirs = (pod["spec"]?["volumes"] as JsonArray ?? []).OfType<JsonObject>().Where(v => v["emptyDir"] is not null).Select(v => v["name"]?.ToString() ?? "?").ToList();
            if (emptyDirs.Count > 0)
            {
                local.Add($"{id} ({string.Join(", ", emptyDirs)})");
            }

            evict.Add((ns, name, id, meta["deletionTimestamp"] is not null));
        }

        return (evict, skipped, unmanaged, local);
    }
}
