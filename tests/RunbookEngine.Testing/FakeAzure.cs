using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Web;

namespace RunbookEngine.Testing;

/// <summary>
/// A fake Azure: a Microsoft Entra token endpoint (client credentials) and Azure Resource Manager for virtual
/// machines and scale sets, over TLS on 127.0.0.1, shaped after the real APIs: api-version on every call,
/// <c>202 Accepted</c> with <c>Azure-AsyncOperation</c> and <c>Location</c> headers for long-running operations,
/// an operation status resource that reports <c>InProgress</c> then <c>Succeeded</c> (or <c>Failed</c>), and ARM
/// error bodies. Every request is recorded, so a test can prove a dry-run sent only reads.
/// </summary>
public sealed class FakeAzure : IAsyncDisposable
{
    public const string Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    public const string ClientId = "5c7e4a2b-0d1e-4f9a-8b6c-3e2d1f0a9b8c";
    public const string Subscription = "00000000-1111-2222-3333-444444444444";

    private readonly ConcurrentDictionary<string, Vm> vms = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, ScaleSet> sets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, Op> operations = new(StringComparer.Ordinal);
    private readonly Lock gate = new();
    private FakeApiServer server = null!;
    private int nextOperation;

    private FakeAzure()
    {
    }

    public string ClientSecret { get; } = "client-secret-" + Guid.NewGuid().ToString("N");

    public string AccessToken { get; } = "arm-token-" + Guid.NewGuid().ToString("N");

    /// <summary>Gets or sets how many status polls of an operation answer InProgress before it finishes.</summary>
    public int PollsBeforeDone { get; set; } = 1;

    /// <summary>Gets or sets an error code that makes the next operation end Failed (e.g. OperationNotAllowed).</summary>
    public string? FailNextOperation { get; set; }

    public string Url => server.Url;

    public IReadOnlyCollection<FakeRequest> Requests => server.Requests;

    /// <summary>Gets the ARM requests other than GET (token requests left out): what a dry-run must never send.</summary>
    public IReadOnlyList<FakeRequest> Writes => [.. server.Requests.Where(r => r.Method != "GET" && r.Path.StartsWith("/subscriptions/", StringComparison.Ordinal))];

    public static async Task<FakeAzure> StartAsync(X509Certificate2 certificate)
    {
        var fake = new FakeAzure();
        fake.server = await FakeApiServer.StartAsync(fake.Handle, certificate);
        return fake;
    }

    public static string VmPath(string group, string name) => $"/subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}";

    public static string ScaleSetPath(string group, string name) => $"/subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}";

    public void AddVm(string group, string name, string power = "running") => vms[VmPath(group, name)] = new Vm(name) { Power = power };

    public string PowerState(string group, string name) => vms[VmPath(group, name)].Power;

    public void AddScaleSet(string group, string name, int capacity) => sets[ScaleSetPath(group, name)] = new ScaleSet(name) { Capacity = capacity };

    public int Capacity(string group, string name) => sets[ScaleSetPath(group, name)].Capacity;

    public ValueTask DisposeAsync() => server.DisposeAsync();

    private static FakeResponse ArmError(int status, string code, string message) =>
        new(status, new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }.ToJsonString());

    private FakeResponse Handle(FakeRequest request)
    {
        if (request.Method == "POST" && request.Path == $"/{Tenant}/oauth2/v2.0/token")
        {
            var form = HttpUtility.ParseQueryString(request.Body);
            if (form["client_id"] != ClientId || form["client_secret"] != ClientSecret || form["grant_type"] != "client_credentials")
            {
                return new FakeResponse(401, new JsonObject { ["error"] = "invalid_client", ["error_description"] = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value." }.ToJsonString());
            }

            return new FakeResponse(200, new JsonObject { ["token_type"] = "Bearer", ["expires_in"] = 3599, ["ext_expires_in"] = 3599, ["access_token"] = AccessToken }.ToJsonString());
        }

        if (request.Header("Authorization") != $"Bearer {AccessToken}")
        {
            return ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.");
        }

        if (!request.Query.Contains("api-version=", StringComparison.Ordinal))
        {
            return ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
        }

        lock (gate)
        {
            return request.Path.Contains("/operations/", StringComparison.Ordinal) ? Poll(request.Path.Split('/')[^1]) : Resource(request);
        }
    }

    private FakeResponse Resource(FakeRequest request)
    {
        var path = request.Path;
        foreach (var (vmPath, vm) in vms)
        {
            if (path.Equals(vmPath + "/instanceView", StringComparison.OrdinalIgnoreCase) && request.Method == "GET")
            {
                return new FakeResponse(200, new JsonObject
                {
                    ["computerName"] = vm.Name,
                    ["statuses"] = new JsonArray(
                        new JsonObject { ["code"] = "ProvisioningState/succeeded", ["level"] = "Info", ["displayStatus"] = "Provisioning succeeded" },
                        new JsonObject { ["code"] = $"PowerState/{vm.Power}", ["level"] = "Info", ["displayStatus"] = $"VM {vm.Power}" }),
                }.ToJsonString());
            }

            var action = path.StartsWith(vmPath + "/", StringComparison.OrdinalIgnoreCase) ? path[(vmPath.Length + 1)..] : null;
            if (request.Method == "POST" && action is "start" or "restart" or "deallocate" or "redeploy" or "powerOff")
            {
                var final = action switch { "deallocate" => "deallocated", "powerOff" => "stopped", _ => "running" };
                if (action == "restart" && vm.Power != "running")
                {
                    return ArmError(409, "OperationNotAllowed", $"Operation 'restart' is not allowed on VM '{vm.Name}' since the VM is {vm.Power}.");
                }

                return Accepted(() => vm.Power = final);
            }
        }

        foreach (var (setPath, set) in sets)
        {
            if (!path.Equals(setPath, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (request.Method == "GET")
            {
                var json = ScaleSetJson(setPath, set);
                if (set.Pending is { } pending && operations.TryGetValue(pending, out var op))
                {
                    // The resource's provisioning state moves with its operation, whoever is watching.
                    var status = JsonNode.Parse(Poll(pending).Body)!["status"]!.GetValue<string>();
                    json = ScaleSetJson(setPath, set);
                    json["properties"]!["provisioningState"] = status == "InProgress" ? "Updating" : status;
                    set.Pending = op.Done ? null : pending;
                }

                return new FakeResponse(200, json.ToJsonString());
            }

            if (request.Method == "PATCH")
            {
                var capacity = JsonNode.Parse(request.Body)?["sku"]?["capacity"]?.GetValue<int>();
                if (capacity is not { } c)
                {
                    return ArmError(400, "InvalidParameter", "The fake scale set takes only sku.capacity patches.");
                }

                // A scale set's PATCH answers 200 with the resource as it is becoming, and the operation to follow.
                var accepted = Accepted(() => set.Capacity = c);
                set.Pending = $"op-{nextOperation}";
                var becoming = ScaleSetJson(setPath, set);
                becoming["sku"]!["capacity"] = c;
                becoming["properties"]!["provisioningState"] = "Updating";
                return accepted with { Status = 200, Body = becoming.ToJsonString() };
            }
        }

        var segments = path.Split('/');
        var provider = Array.IndexOf(segments, "providers");
        var resource = provider > 0 && segments.Length > provider + 3 ? string.Join('/', segments[(provider + 1)..(provider + 4)]) : path;
        return ArmError(404, "ResourceNotFound", $"The Resource '{resource}' under resource group '{segments[4]}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
    }

    private FakeResponse Accepted(Action complete)
    {
        var id = $"op-{Interlocked.Increment(ref nextOperation)}";
        operations[id] = new Op(complete, PollsBeforeDone, FailNextOperation);
        FailNextOperation = null;
        var status = $"{Url}/subscriptions/{Subscription}/providers/Microsoft.Compute/locations/westeurope/operations/{id}?api-version=2023-07-01";
        return new FakeResponse(202, string.Empty, "application/json", new Dictionary<string, string>
        {
            ["Azure-AsyncOperation"] = status,
            ["Location"] = status + "&monitor=true",
            ["Retry-After"] = "10",
        });
    }

    private FakeResponse Poll(string id)
    {
        if (!operations.TryGetValue(id, out var op))
        {
            return ArmError(404, "NotFound", "no such operation");
        }

        if (op.PollsLeft > 0)
        {
            op.PollsLeft--;
            return new FakeResponse(200, new JsonObject { ["name"] = id, ["status"] = "InProgress", ["startTime"] = "2026-11-21T09:00:00Z" }.ToJsonString());
        }

        if (op.Failure is { } code)
        {
            return new FakeResponse(200, new JsonObject { ["name"] = id, ["status"] = "Failed", ["error"] = new JsonObject { ["code"] = code, ["message"] = $"The operation failed: {code}." } }.ToJsonString());
        }

        if (!op.Done)
        {
            op.Complete();
            op.Done = true;
        }

        return new FakeResponse(200, new JsonObject { ["name"] = id, ["status"] = "Succeeded", ["startTime"] = "2026-11-21T09:00:00Z", ["endTime"] = "2026-11-21T09:01:00Z" }.ToJsonString());
    }

    private static JsonObject ScaleSetJson(string path, ScaleSet set) => new()
    {
        ["id"] = path,
        ["name"] = set.Name,
        ["type"] = "Microsoft.Compute/virtualMachineScaleSets",
        ["location"] = "westeurope",
        ["sku"] = new JsonObject { ["name"] = "Standard_D2s_v3", ["tier"] = "Standard", ["capacity"] = set.Capacity },
        ["properties"] = new JsonObject { ["provisioningState"] = "Succeeded", ["upgradePolicy"] = new JsonObject { ["mode"] = "Manual" } },
    };

    private sealed class Vm(string name)
    {
        public string Name => name;

        public string Power { get; set; } = "running";
    }

    private sealed class ScaleSet(string name)
    {
        public string Name => name;

        public int Capacity { get; set; }

        public string? Pending { get; set; }
    }

    private sealed class Op(Action complete, int polls, string? failure)
    {
        public Action Complete => complete;

        public int PollsLeft { get; set; } = polls;

        public string? Failure => failure;

        public bool Done { get; set; }
    }
}
