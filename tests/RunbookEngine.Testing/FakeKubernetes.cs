using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Web;

namespace RunbookEngine.Testing;

/// <summary>
/// A fake Kubernetes API server on 127.0.0.1, shaped after the real one: objects at their REST paths, GET of an
/// object or a collection with fieldSelector, watches (newline-delimited events), JSON merge patches (the
/// generation moves when the spec changes), the scale subresource, DELETE, pod eviction (429 while a disruption
/// budget allows none), and Status objects for errors. Every request is recorded, so a test can prove a dry-run
/// sent only reads.
/// </summary>
public sealed partial class FakeKubernetes : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, JsonObject> objects = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> evictionBlocks = new(StringComparer.Ordinal);
    private readonly Lock gate = new();
    private FakeApiServer server = null!;
    private long resourceVersion = 100;

    private FakeKubernetes()
    {
    }

    /// <summary>Gets the bearer token the server accepts.</summary>
    public string Token { get; } = "kube-token-" + Guid.NewGuid().ToString("N");

    /// <summary>Gets or sets the subject of a client certificate the server accepts instead of the token.</summary>
    public string? AcceptedClientSubject { get; set; }

    /// <summary>Gets or sets what a watch returns (the events, after the server's own changes to its objects); default none.</summary>
    public Func<FakeRequest, IEnumerable<(string Type, JsonObject Object)>>? OnWatch { get; set; }

    public string Url => server.Url;

    public IReadOnlyCollection<FakeRequest> Requests => server.Requests;

    /// <summary>Gets the requests other than GET: what a dry-run must never send.</summary>
    public IReadOnlyList<FakeRequest> Writes => [.. server.Requests.Where(r => r.Method != "GET")];

    public static async Task<FakeKubernetes> StartAsync(X509Certificate2? certificate = null)
    {
        var fake = new FakeKubernetes();
        fake.server = await FakeApiServer.StartAsync(fake.Handle, certificate);
        return fake;
    }

    /// <summary>A kubeconfig for this server, written to <paramref name="path"/>.</summary>
    public string WriteKubeconfig(string path, string ns = "default", string? caPem = null, (string Certificate, string Key)? client = null, string? token = null)
    {
        static string B64(string s) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(s));
        var user = client is { } c
            ? $"    client-certificate-data: {B64(c.Certificate)}\n    client-key-data: {B64(c.Key)}"
            : $"    token: {token ?? Token}";
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            current-context: test
            clusters:
            - name: fake
              cluster:
                server: {Url}
            {(caPem is null ? string.Empty : $"    certificate-authority-data: {B64(caPem)}")}
            contexts:
            - name: test
              context:
                cluster: fake
                user: tester
                namespace: {ns}
            users:
            - name: tester
              user:
            {user}

            """);
        return path;
    }

    /// <summary>Adds or replaces an object at its path.</summary>
    public JsonObject Put(string path, JsonObject obj)
    {
        lock (gate)
        {
            var meta = obj["metadata"] as JsonObject ?? [];
            obj["metadata"] = meta;
            meta["resourceVersion"] = (++resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
            meta["generation"] ??= 1;
            objects[path] = obj;
            return obj;
        }
    }

    public JsonObject? Get(string path) => objects.TryGetValue(path, out var o) ? o : null;

    public JsonObject Deployment(string ns, string name, int replicas, bool available = true) => Put($"/apis/apps/v1/namespaces/{ns}/deployments/{name}", new JsonObject
    {
        ["apiVersion"] = "apps/v1",
        ["kind"] = "Deployment",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["managedFields"] = new JsonArray(new JsonObject { ["manager"] = "kubectl" }) },
        ["spec"] = new JsonObject { ["replicas"] = replicas, ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = name } } } },
        ["status"] = DeploymentStatus(replicas, available, 1),
    });

    public static JsonObject DeploymentStatus(int replicas, bool available, long observedGeneration) => new()
    {
        ["observedGeneration"] = observedGeneration,
        ["replicas"] = replicas,
        ["updatedReplicas"] = replicas,
        ["readyReplicas"] = available ? replicas : 0,
        ["availableReplicas"] = available ? replicas : 0,
        ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Available", ["status"] = available ? "True" : "False" }),
    };

    public JsonObject Node(string name, bool unschedulable = false) => Put($"/api/v1/nodes/{name}", new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Node",
        ["metadata"] = new JsonObject { ["name"] = name },
        ["spec"] = unschedulable ? new JsonObject { ["unschedulable"] = true } : new JsonObject(),
        ["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }) },
    });

    /// <summary>Adds a running pod on a node, owned by a controller of <paramref name="ownerKind"/> (null: no controller).</summary>
    public JsonObject Pod(string ns, string name, string node, string? ownerKind = "ReplicaSet", bool mirror = false, string? emptyDir = null) => Put($"/api/v1/namespaces/{ns}/pods/{name}", new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = ns,
            ["ownerReferences"] = ownerKind is null ? new JsonArray() : new JsonArray(new JsonObject { ["kind"] = ownerKind, ["name"] = "owner", ["controller"] = true }),
            ["annotations"] = mirror ? new JsonObject { ["kubernetes.io/config.mirror"] = "abc" } : new JsonObject(),
        },
        ["spec"] = emptyDir is null
            ? new JsonObject { ["nodeName"] = node }
            : new JsonObject { ["nodeName"] = node, ["volumes"] = new JsonArray(new JsonObject { ["name"] = "config", ["configMap"] = new JsonObject { ["name"] = "cfg" } }, new JsonObject { ["name"] = emptyDir, ["emptyDir"] = new JsonObject() }) },
        ["status"] = new JsonObject { ["phase"] = "Running", ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }) },
    });

    /// <summary>Makes the next <paramref name="times"/> evictions of a pod answer 429, as a PodDisruptionBudget would.</summary>
    public void BlockEviction(string ns, string name, int times) => evictionBlocks[$"{ns}/{name}"] = times;

    public ValueTask DisposeAsync() => server.DisposeAsync();

    private static FakeResponse Status(int code, string reason, string message) => new(code, new JsonObject
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = code < 400 ? "Success" : "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    }.ToJsonString());

    /// <summary>RFC 7386: objects merge key by key, null removes, anything else replaces.</summary>
    private static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToList())
        {
            if (value is null)
            {
                target.Remove(key);
            }
            else if (value is JsonObject p && target[key] is JsonObject t)
            {
                Merge(t, p);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }
    }

    /// <summary>The collection an object path belongs to, and its namespace: /api/v1/namespaces/ns/pods/x is in /api/v1/namespaces/ns/pods and /api/v1/pods.</summary>
    private static bool InCollection(string objectPath, string collection)
    {
        var parent = objectPath[..objectPath.LastIndexOf('/')];
        return parent == collection || NamespaceSegment().Replace(parent, string.Empty) == collection;
    }

    /// <summary>Whether a path names a collection: /api/v1/pods, /api/v1/namespaces/ns/pods, /apis/apps/v1/namespaces/ns/deployments.</summary>
    private static bool IsCollection(string path)
    {
        var segments = path.Trim('/').Split('/');
        var rest = segments[0] == "api" ? segments[2..] : segments[3..];
        if (rest.Length >= 3 && rest[0] == "namespaces")
        {
            rest = rest[2..];
        }

        return rest.Length == 1;
    }

    [GeneratedRegex("/namespaces/[^/]+")]
    private static partial Regex NamespaceSegment();

    private FakeResponse Handle(FakeRequest request)
    {
        var authorized = request.Header("Authorization") == $"Bearer {Token}" || (AcceptedClientSubject is not null && request.ClientCertificate == AcceptedClientSubject);
        if (!authorized)
        {
            return Status(401, "Unauthorized", "Unauthorized");
        }

        var query = HttpUtility.ParseQueryString(request.Query);
        var path = request.Path;
        lock (gate)
        {
            switch (request.Method)
            {
                case "GET" when path.EndsWith("/scale", StringComparison.Ordinal):
                    return Get(path[..^"/scale".Length]) is { } owner ? new FakeResponse(200, Scale(owner).ToJsonString()) : Status(404, "NotFound", $"not found: {path}");
                case "GET" when objects.TryGetValue(path, out var obj):
                    return new FakeResponse(200, obj.ToJsonString());
                case "GET" when query["watch"] == "true":
                    var events = OnWatch?.Invoke(request) ?? [];
                    return new FakeResponse(200, string.Concat(events.Select(e => new JsonObject { ["type"] = e.Type, ["object"] = e.Object.DeepClone() }.ToJsonString() + "\n")), "application/json");
                case "GET" when IsCollection(path):
                    var selector = query["fieldSelector"];
                    var items = objects.Where(kv => InCollection(kv.Key, path) && Matches(kv.Value, selector)).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value.DeepClone()).ToArray();
                    return new FakeResponse(200, new JsonObject { ["kind"] = "List", ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ["items"] = new JsonArray(items) }.ToJsonString());
                case "GET":
                    return Status(404, "NotFound", $"{path.Split('/')[^2]} \"{path.Split('/')[^1]}\" not found");
                case "PATCH":
                    return Patch(request, path);
                case "DELETE":
                    return objects.TryRemove(path, out var removed) ? new FakeResponse(200, removed.ToJsonString()) : Status(404, "NotFound", $"pods \"{path.Split('/')[^1]}\" not found");
                case "POST" when path.EndsWith("/eviction", StringComparison.Ordinal):
                    var podPath = path[..^"/eviction".Length];
                    var id = $"{podPath.Split('/')[^3]}/{podPath.Split('/')[^1]}";
                    if (!objects.ContainsKey(podPath))
                    {
                        return Status(404, "NotFound", $"pods \"{podPath.Split('/')[^1]}\" not found");
                    }

                    if (evictionBlocks.TryGetValue(id, out var left) && left > 0)
                    {
                        evictionBlocks[id] = left - 1;
                        return Status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.");
                    }

                    objects.TryRemove(podPath, out _);
                    return Status(201, string.Empty, string.Empty);
                default:
                    return Status(405, "MethodNotAllowed", $"{request.Method} is not supported by the fake");
            }
        }
    }

    private static bool Matches(JsonObject obj, string? selector)
    {
        if (selector is null)
        {
            return true;
        }

        var (field, value) = (selector.Split('=')[0], selector.Split('=')[1]);
        var node = field.Split('.').Aggregate<string, JsonNode?>(obj, (n, k) => n?[k]);
        return node?.ToString() == value;
    }

    private JsonObject Scale(JsonObject owner) => new()
    {
        ["apiVersion"] = "autoscaling/v1",
        ["kind"] = "Scale",
        ["metadata"] = new JsonObject { ["name"] = owner["metadata"]!["name"]!.DeepClone(), ["namespace"] = owner["metadata"]!["namespace"]?.DeepClone() },
        ["spec"] = new JsonObject { ["replicas"] = owner["spec"]?["replicas"]?.DeepClone() ?? 1 },
        ["status"] = new JsonObject { ["replicas"] = owner["status"]?["replicas"]?.DeepClone() ?? 0 },
    };

    private FakeResponse Patch(FakeRequest request, string path)
    {
        if (request.Header("Content-Type")?.StartsWith("application/merge-patch+json", StringComparison.Ordinal) != true)
        {
            return Status(415, "UnsupportedMediaType", $"the fake takes merge patches only, got {request.Header("Content-Type")}");
        }

        var scale = path.EndsWith("/scale", StringComparison.Ordinal);
        var target = scale ? path[..^"/scale".Length] : path;
        if (!objects.TryGetValue(target, out var obj))
        {
            return Status(404, "NotFound", $"\"{target.Split('/')[^1]}\" not found");
        }

        var patch = (JsonObject)JsonNode.Parse(request.Body)!;
        var before = obj["spec"]?.ToJsonString();
        Merge(obj, patch);
        if (obj["spec"]?.ToJsonString() != before)
        {
            obj["metadata"]!["generation"] = obj["metadata"]!["generation"]!.GetValue<int>() + 1;
        }

        obj["metadata"]!["resourceVersion"] = (++resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new FakeResponse(200, (scale ? Scale(obj) : obj).ToJsonString());
    }
}
