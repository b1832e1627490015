using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// Azure virtual machines and scale sets through Azure Resource Manager (Azure.ResourceManager.Compute) with
/// Azure.Identity credentials: start, restart, deallocate, redeploy a VM, set a scale set's capacity, read either.
/// Long-running operations are followed until Azure reports them done; the operation's status address is saved as
/// the step's progress before it is followed, so an attempt after a crash follows the same operation instead of
/// requesting it again. Plans only read.
/// </summary>
public sealed partial class AzureAction : IRunbookAction
{
    /// <summary>The environment variable giving the subscription when a step does not.</summary>
    public const string SubscriptionVariable = "AZURE_SUBSCRIPTION_ID";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan DefaultPoll = TimeSpan.FromSeconds(5);
    private static readonly string[] Operations = ["get", "start", "restart", "deallocate", "redeploy", "scale"];
    private static readonly ConcurrentDictionary<string, AzureConnection> Clients = new(StringComparer.Ordinal);

    private readonly TimeProvider time;
    private readonly Func<string, AzureConnection> connect;
    private readonly Func<string, string?> environment;

    /// <summary>Initializes a new instance of the <see cref="AzureAction"/> class with the worker's credentials (DefaultAzureCredential) and clock.</summary>
    public AzureAction()
        : this(TimeProvider.System, cloud => Clients.GetOrAdd(cloud, c => AzureConnection.Create(new DefaultAzureCredential(), new ArmClientOptions { Environment = Cloud(c) })), Environment.GetEnvironmentVariable)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="AzureAction"/> class.</summary>
    /// <param name="time">The clock for polling and timeouts.</param>
    /// <param name="connect">Gives the ARM client (and its pipeline, for following a recorded operation) for a cloud name.</param>
    /// <param name="environment">Reads an environment variable.</param>
    internal AzureAction(TimeProvider time, Func<string, AzureConnection> connect, Func<string, string?> environment)
    {
        this.time = time;
        this.connect = connect;
        this.environment = environment;
    }

    /// <inheritdoc/>
    public string Name => "azure";

    /// <inheritdoc/>
    public string Description => "Azure: start, restart, deallocate or redeploy a virtual machine, set a scale set's capacity, or read either.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.Destructive;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("operation", ParameterType.String, true, "get, start, restart, deallocate, redeploy (a virtual machine) or scale (a scale set).", Operations),
        new("resource_group", ParameterType.String, true, "The resource group."),
        new("vm", ParameterType.String, false, "The virtual machine's name (get, start, restart, deallocate, redeploy)."),
        new("scale_set", ParameterType.String, false, "The virtual machine scale set's name (get, scale)."),
        new("capacity", ParameterType.Number, false, "scale: the instance count wanted."),
        new("subscription", ParameterType.String, false, $"The subscription id; default the worker's {SubscriptionVariable}."),
        new("timeout", ParameterType.String, false, "How long to follow the operation until Azure reports it done (default 15m)."),
        new("cloud", ParameterType.String, false, "public (default), china or usgov.", ["public", "china", "usgov"]),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["id", "changed", "power_state", "provisioning_state", "from", "to", "resumed"];

    /// <inheritdoc/>
    public SideEffect Classify(JsonObject with)
    {
        ArgumentNullException.ThrowIfNull(with);
        return With.String(with, "operation") switch
        {
            "get" => SideEffect.ReadOnly,
            "start" or "restart" or "scale" => SideEffect.Mutating,
            _ => SideEffect.Destructive, // deallocate and redeploy lose the temporary disk and any dynamic public IP
        };
    }

    /// <inheritdoc/>
    public async Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var target = Target.From(request.With, environment);
        var details = new JsonObject { ["id"] = target.Id.ToString() };
        string summary;
        try
        {
            var arm = connect(Cloud(request.With)).Arm;
            if (target.IsScaleSet)
            {
                var current = (await arm.GetVirtualMachineScaleSetResource(target.Id).GetAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Data.Sku?.Capacity;
                details["current"] = new JsonObject { ["capacity"] = current };
                summary = target.Operation == "get"
                    ? $"would read {target}"
                    : $"would scale {target} from {current?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} to {Capacity(request.With)} instance(s)";
            }
            else
            {
                var (power, provisioning) = await StateAsync(arm.GetVirtualMachineResource(target.Id), cancellationToken).ConfigureAwait(false);
                details["current"] = new JsonObject { ["power_state"] = power, ["provisioning_state"] = provisioning };
                summary = $"would {(target.Operation == "get" ? "read" : target.Operation)} {target} (now {power ?? "unknown"}" + (NothingToDo(target.Operation, power) ? ": nothing to do)" : ")");
            }
        }
        catch (Exception ex) when (ex is RequestFailedException or AuthenticationFailedException or CredentialUnavailableException or StepException { Kind: not "InvalidInput" })
        {
            details["current_error"] = Map(ex, target).Message;
            summary = $"would {target.Operation} {target}";
        }

        return new ActionPlan(Name, target.Operation, target.Id.ToString(), summary, Classify(request.With), details);
    }

    /// <inheritdoc/>
    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var target = Target.From(request.With, environment);
        var timeout = Timeout(request.With);
        var result = With.Object(("id", target.Id.ToString()), ("changed", false));
        try
        {
            var connection = connect(Cloud(request.With));
            var arm = connection.Arm;
            if (target.IsScaleSet)
            {
                var set = arm.GetVirtualMachineScaleSetResource(target.Id);
                var from = (await set.GetAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Data.Sku?.Capacity;
                result["from"] = from;
                if (target.Operation == "scale")
                {
                    var to = Capacity(request.With);
                    result["to"] = to;
                    if (from != to)
                    {
                        var patch = new VirtualMachineScaleSetPatch { Sku = new ComputeSku { Capacity = to } };
                        var deadline = time.GetUtcNow() + timeout;
                        await FollowAsync(await set.UpdateAsync(WaitUntil.Started, patch, cancellationToken).ConfigureAwait(false), target, timeout, cancellationToken).ConfigureAwait(false);

                        // A scale set's PATCH may answer 200 while the instances are still being added or removed:
                        // done is when its provisioning state says so.
                        while ((await set.GetAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Data.ProvisioningState is { } state && state != "Succeeded")
                        {
                            if (state is "Failed" or "Canceled")
                            {
                                throw new StepException("AzureError", $"{target}: scaling to {to} ended {state}", nonRetryable: true);
                            }

                            if (time.GetUtcNow() >= deadline)
                            {
                                throw new StepException("AzureOperationTimedOut", $"{target}: still {state} after {Durations.Format(timeout)}; Azure may still complete it", nonRetryable: true);
                            }

                            await Task.Delay(DefaultPoll, time, cancellationToken).ConfigureAwait(false);
                        }

                        result["changed"] = true;
                    }
                }

                return result;
            }

            var vm = arm.GetVirtualMachineResource(target.Id);
            if (StartedOperation.From(request.Progress, target) is { } started)
            {
                // An earlier attempt requested this operation and was interrupted while following it: follow the
                // same operation to its end; never request it a second time (a VM restarted twice is an outage).
                request.Logger.LogInformation("azure: following the {Operation} of {Target} that attempt {Attempt} requested at {At}", target.Operation, target, started.Attempt, started.At);
                await started.FollowAsync(connection, target, started.At + timeout, time, cancellationToken).ConfigureAwait(false);
                result["changed"] = true;
                result["resumed"] = true;
            }
            else if (target.Operation != "get" && !NothingToDo(target.Operation, (await StateAsync(vm, cancellationToken).ConfigureAwait(false)).Power))
            {
                var at = time.GetUtcNow();
                Operation operation = target.Operation switch
                {
                    "start" => await vm.PowerOnAsync(WaitUntil.Started, cancellationToken).ConfigureAwait(false),
                    "restart" => await vm.RestartAsync(WaitUntil.Started, cancellationToken).ConfigureAwait(false),
                    "deallocate" => await vm.DeallocateAsync(WaitUntil.Started, cancellationToken: cancellationToken).ConfigureAwait(false),
                    _ => await vm.RedeployAsync(WaitUntil.Started, cancellationToken).ConfigureAwait(false),
                };
                if (!operation.HasCompleted && StartedOperation.Of(operation.GetRawResponse(), target, request.Attempt, at) is { } recorded)
                {
                    await request.SaveProgressAsync(recorded.ToJson()).ConfigureAwait(false);
                }

                await FollowAsync(operation, target, timeout, cancellationToken).ConfigureAwait(false);
                result["changed"] = true;
            }

            var (after, provisioning) = await StateAsync(vm, cancellationToken).ConfigureAwait(false);
            result["power_state"] = after;
            result["provisioning_state"] = provisioning;
            return result;
        }
        catch (Exception ex) when (ex is RequestFailedException or AuthenticationFailedException or CredentialUnavailableException)
        {
            throw Map(ex, target);
        }
    }

    private static StepException Invalid(string message) => new("InvalidInput", "azure: " + message, nonRetryable: true);

    private static ArmEnvironment Cloud(string name) => name switch
    {
        "china" => ArmEnvironment.AzureChina,
        "usgov" => ArmEnvironment.AzureGovernment,
        _ => ArmEnvironment.AzurePublicCloud,
    };

    private static string Cloud(JsonObject with) => With.String(with, "cloud") is { Length: > 0 } c ? c : "public";

    private static TimeSpan Timeout(JsonObject with) => With.Duration(with, "timeout", DefaultTimeout, "azure");

    private static int Capacity(JsonObject with)
    {
        var n = with["capacity"] is null ? throw Invalid("'scale' needs 'capacity'") : With.Number(with["capacity"], "capacity");
        return n is >= 0 and <= 1000 && n == Math.Floor(n) ? (int)n : throw Invalid("'capacity' must be a whole number from 0 to 1000");
    }

    /// <summary>Whether a VM is already where the operation would take it (so a retried attempt changes nothing).</summary>
    private static bool NothingToDo(string operation, string? power) =>
        (operation == "start" && power == "running") || (operation == "deallocate" && power == "deallocated");

    private static async Task<(string? Power, string? Provisioning)> StateAsync(VirtualMachineResource vm, CancellationToken cancellationToken)
    {
        var view = (await vm.InstanceViewAsync(cancellationToken).ConfigureAwait(false)).Value;
        var codes = view.Statuses.Select(s => s.Code).ToList();
        return (
            codes.FirstOrDefault(c => c.StartsWith("PowerState/", StringComparison.Ordinal))?["PowerState/".Length..],
            codes.FirstOrDefault(c => c.StartsWith("ProvisioningState/", StringComparison.Ordinal))?["ProvisioningState/".Length..]);
    }

    private static StepException Map(Exception ex, Target target) => ex switch
    {
        StepException step => step,
        RequestFailedException { Status: 401 } r => new("AzureUnauthorized", $"{target}: Azure refused the credentials: {FirstLine(r)}", nonRetryable: true),
        RequestFailedException { Status: 403 } r => new("AzureForbidden", $"{target}: not allowed (Azure RBAC): {FirstLine(r)}", nonRetryable: true),
        RequestFailedException { Status: 404 } r => new("AzureNotFound", $"{target}: {FirstLine(r)}", nonRetryable: true),
        RequestFailedException { Status: 409 } r => new("AzureConflict", $"{target}: {FirstLine(r)}"),
        RequestFailedException { Status: 429 or >= 500 or 0 } r => new("AzureUnavailable", $"{target}: {FirstLine(r)}"),
        RequestFailedException r => new("AzureError", $"{target}: {FirstLine(r)}", nonRetryable: true),
        CredentialUnavailableException => new("AzureCredentials", $"azure: no credentials for {target}: set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE) for the worker, or give it a managed identity or an Azure CLI login", nonRetryable: true),
        _ => new("AzureCredentials", $"azure: authentication failed for {target}: {AuthenticationProblem(ex)}", nonRetryable: true),
    };

    /// <summary>What Entra ID said: Azure.Identity wraps MSAL's exception, whose message ends with the server's error (AADSTS...).</summary>
    private static string AuthenticationProblem(Exception ex)
    {
        var text = ex.InnerException?.Message ?? ex.Message;
        const string Marker = "Original exception: ";
        var at = text.IndexOf(Marker, StringComparison.Ordinal);
        return (at >= 0 ? text[(at + Marker.Length)..] : text).Split('\n')[0].Trim();
    }

    /// <summary>The first line of an Azure error: its message carries the response's headers and content after it.</summary>
    private static string FirstLine(RequestFailedException ex) =>
        (ex.ErrorCode is { Length: > 0 } code ? $"{code}: " : string.Empty) + ex.Message.Split('\n')[0].Trim();

    /// <summary>Follows a long-running operation until Azure says it is done, polling on this action's clock.</summary>
    private async Task FollowAsync(Operation operation, Target target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        while (!operation.HasCompleted)
        {
            if (time.GetUtcNow() >= deadline)
            {
                throw new StepException("AzureOperationTimedOut", $"{target}: {target.Operation} did not finish within {Durations.Format(timeout)}; Azure may still complete it (operation {operation.Id})", nonRetryable: true);
            }

            await Task.Delay(NextPoll(operation.GetRawResponse()), time, cancellationToken).ConfigureAwait(false);
            await operation.UpdateStatusAsync(cancellationToken).ConfigureAwait(false);
        }

        var response = operation.GetRawResponse();
        if (response.Status >= 400)
        {
            throw new RequestFailedException(response);
        }
    }

    /// <summary>How long to wait before the next status poll: what Azure asks for in Retry-After (1 s to 1 min), else 5 s.</summary>
    private static TimeSpan NextPoll(Response response) =>
        response.Headers.TryGetValue("Retry-After", out var value) && int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(Math.Clamp(seconds, 1, 60))
            : DefaultPoll;

    /// <summary>What a step names: a VM or a scale set in a resource group of a subscription.</summary>
    private sealed record Target(string Operation, ResourceIdentifier Id, bool IsScaleSet, string ResourceGroup, string Name)
    {
        public static Target From(JsonObject with, Func<string, string?> environment)
        {
            var op = With.RequiredString(with, "operation", "azure");
            if (!Operations.Contains(op, StringComparer.Ordinal))
            {
                throw Invalid($"unknown operation '{op}'; operations: {string.Join(", ", Operations)}");
            }

            var subscription = With.String(with, "subscription") is { Length: > 0 } s ? s : environment(SubscriptionVariable);
            if (string.IsNullOrEmpty(subscription))
            {
                throw Invalid($"no subscription: set 'subscription' on the step or {SubscriptionVariable} for the worker");
            }

            if (!Guid.TryParse(subscription, out _))
            {
                throw Invalid($"'subscription' must be a subscription id (a GUID), got '{subscription}'");
            }

            var group = CheckName(With.RequiredString(with, "resource_group", "azure"), "resource_group");
            var vm = With.String(with, "vm") is { Length: > 0 } v ? CheckName(v, "vm") : null;
            var set = With.String(with, "scale_set") is { Length: > 0 } ss ? CheckName(ss, "scale_set") : null;
            if ((vm is null) == (set is null))
            {
                throw Invalid("name exactly one of 'vm' and 'scale_set'");
            }

            if (set is not null && op is not ("get" or "scale"))
            {
                throw Invalid($"'{op}' applies to a virtual machine ('vm'), not a scale set");
            }

            if (vm is not null && op == "scale")
            {
                throw Invalid("'scale' applies to a scale set ('scale_set'), not a virtual machine");
            }

            var id = set is not null
                ? VirtualMachineScaleSetResource.CreateResourceIdentifier(subscription, group, set)
                : VirtualMachineResource.CreateResourceIdentifier(subscription, group, vm!);
            return new Target(op, id, set is not null, group, set ?? vm!);
        }

        public override string ToString() => $"{(IsScaleSet ? "scale set" : "virtual machine")} {ResourceGroup}/{Name}";

        private static string CheckName(string value, string key) =>
            AzureName().IsMatch(value) ? value : throw Invalid($"'{key}' must be an Azure resource name (letters, digits, '.', '_', '-', '(', ')'; at most 90), got '{value}'");
    }

    [GeneratedRegex(@"^[A-Za-z0-9._()\-]{1,90}$", RegexOptions.CultureInvariant)]
    private static partial Regex AzureName();
}
