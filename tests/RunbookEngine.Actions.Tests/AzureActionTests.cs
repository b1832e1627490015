using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.ResourceManager;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Tests;

/// <summary>
/// The azure action through the real Azure SDK (Azure.ResourceManager.Compute, and Azure.Identity's client-secret
/// credential) against a fake Entra ID and Resource Manager over TLS on 127.0.0.1.
/// </summary>
public sealed class AzureActionTests : IAsyncLifetime, IDisposable
{
    private readonly TestCertificates certificates = new();
    private readonly ManualTimeProvider time = new();
    private readonly List<HttpClient> clients = [];
    private FakeAzure azure = null!;

    public async Task InitializeAsync() => azure = await FakeAzure.StartAsync(certificates.Server);

    public async Task DisposeAsync() => await azure.DisposeAsync();

    public void Dispose()
    {
        foreach (var c in clients)
        {
            c.Dispose();
        }

        certificates.Dispose();
    }

    [Fact]
    public async Task Restart_plans_with_a_read_then_posts_and_follows_the_long_running_operation()
    {
        azure.AddVm("rg-web", "web-1");
        var action = Action();
        var with = Vm("restart", "web-1");

        var plan = await action.PlanAsync(Request(with), CancellationToken.None);
        Assert.Equal("would restart virtual machine rg-web/web-1 (now running)", plan.Summary);
        Assert.Equal(SideEffect.Mutating, plan.SideEffect);
        Assert.Equal(FakeAzure.VmPath("rg-web", "web-1"), plan.Target);
        Assert.Empty(azure.Writes);

        var result = await Drive(() => action.ExecuteAsync(Request(with), CancellationToken.None));

        Assert.True(result["changed"]!.GetValue<bool>());
        Assert.Equal("running", result["power_state"]!.GetValue<string>());
        var post = Assert.Single(azure.Writes);
        Assert.Equal(FakeAzure.VmPath("rg-web", "web-1") + "/restart", post.Path);
        Assert.Contains("api-version=20", post.Query, StringComparison.Ordinal);
        Assert.Equal($"Bearer {azure.AccessToken}", post.Header("Authorization"));
        var polls = azure.Requests.Where(r => r.Path.Contains("/operations/", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, polls.Count); // Azure-AsyncOperation: InProgress, then Succeeded; then the final read of Location, as ARM's POST actions are followed
        Assert.Contains("monitor=true", polls[2].Query, StringComparison.Ordinal);
        var token = Assert.Single(azure.Requests, r => r.Path.EndsWith("/oauth2/v2.0/token", StringComparison.Ordinal));
        Assert.Contains("scope=https%3A%2F%2Fmanagement.azure.com%2F.default", token.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(azure.ClientSecret, result.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_and_deallocate_do_nothing_when_the_vm_is_already_there_and_redeploy_is_destructive()
    {
        azure.AddVm("rg-web", "web-2", power: "running");
        var action = Action();

        var start = await action.ExecuteAsync(Request(Vm("start", "web-2")), CancellationToken.None);
        Assert.False(start["changed"]!.GetValue<bool>());
        Assert.Empty(azure.Writes);
        Assert.Equal("would start virtual machine rg-web/web-2 (now running: nothing to do)", (await action.PlanAsync(Request(Vm("start", "web-2")), CancellationToken.None)).Summary);

        var deallocate = await Drive(() => action.ExecuteAsync(Request(Vm("deallocate", "web-2")), CancellationToken.None));
        Assert.Equal(("deallocated", true), (deallocate["power_state"]!.GetValue<string>(), deallocate["changed"]!.GetValue<bool>()));
        Assert.Equal("deallocated", azure.PowerState("rg-web", "web-2"));
        var again = await action.ExecuteAsync(Request(Vm("deallocate", "web-2")), CancellationToken.None);
        Assert.False(again["changed"]!.GetValue<bool>());
        Assert.Single(azure.Writes);

        Assert.Equal(
            [SideEffect.ReadOnly, SideEffect.Mutating, SideEffect.Mutating, SideEffect.Mutating, SideEffect.Destructive, SideEffect.Destructive],
            new[] { "get", "start", "restart", "scale", "deallocate", "redeploy" }.Select(op => action.Classify(new JsonObject { ["operation"] = op })));
    }

    [Fact]
    public async Task Scale_sets_the_capacity_with_a_patch_and_only_when_it_differs()
    {
        azure.AddScaleSet("rg-batch", "workers", capacity: 3);
        var action = Action();
        var with = new JsonObject { ["operation"] = "scale", ["resource_group"] = "rg-batch", ["scale_set"] = "workers", ["capacity"] = 6, ["subscription"] = FakeAzure.Subscription };

        var plan = await action.PlanAsync(Request(with), CancellationToken.None);
        Assert.Equal("would scale scale set rg-batch/workers from 3 to 6 instance(s)", plan.Summary);
        Assert.Empty(azure.Writes);

        var result = await Drive(() => action.ExecuteAsync(Request(with), CancellationToken.None));
        Assert.Equal((3L, 6, true), (result["from"]!.GetValue<long>(), result["to"]!.GetValue<int>(), result["changed"]!.GetValue<bool>()));
        Assert.Equal(6, azure.Capacity("rg-batch", "workers"));
        var patch = Assert.Single(azure.Writes);
        Assert.Equal(("PATCH", FakeAzure.ScaleSetPath("rg-batch", "workers")), (patch.Method, patch.Path));
        Assert.Equal(6, JsonNode.Parse(patch.Body)!["sku"]!["capacity"]!.GetValue<int>());

        var again = await action.ExecuteAsync(Request(with), CancellationToken.None);
        Assert.False(again["changed"]!.GetValue<bool>());
        Assert.Single(azure.Writes);
    }

    [Fact]
    public async Task Azure_errors_become_step_failures_that_say_whether_a_retry_can_help()
    {
        azure.AddVm("rg-web", "stopped-1", power: "deallocated");
        azure.AddVm("rg-web", "web-3");
        var action = Action();

        var missing = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(Vm("restart", "nope")), CancellationToken.None));
        Assert.Equal("AzureNotFound", missing.Kind);
        Assert.True(missing.NonRetryable);
        Assert.StartsWith("virtual machine rg-web/nope: ResourceNotFound: The Resource 'Microsoft.Compute/virtualMachines/nope' under resource group 'rg-web' was not found.", missing.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', missing.Message);

        var conflict = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(Vm("restart", "stopped-1")), CancellationToken.None));
        Assert.Equal("AzureConflict", conflict.Kind);
        Assert.False(conflict.NonRetryable);

        azure.FailNextOperation = "AllocationFailed";
        var failed = await Assert.ThrowsAsync<StepException>(() => Drive(() => action.ExecuteAsync(Request(Vm("redeploy", "web-3")), CancellationToken.None)));
        Assert.Contains("AllocationFailed", failed.Message, StringComparison.Ordinal);

        var plan = await action.PlanAsync(Request(Vm("restart", "nope")), CancellationToken.None);
        Assert.Equal("would restart virtual machine rg-web/nope", plan.Summary);
        Assert.Contains("ResourceNotFound", plan.Details!["current_error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_client_secret_fails_without_retry_and_never_shows_the_secret()
    {
        azure.AddVm("rg-web", "web-1");
        var wrong = "wrong-secret-" + Guid.NewGuid().ToString("N");
        var ex = await Assert.ThrowsAsync<StepException>(() => Action(secret: wrong).ExecuteAsync(Request(Vm("restart", "web-1")), CancellationToken.None));
        Assert.Equal("AzureCredentials", ex.Kind);
        Assert.True(ex.NonRetryable);
        Assert.Equal("azure: authentication failed for virtual machine rg-web/web-1: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.", ex.Message);
        Assert.DoesNotContain(wrong, ex.Message, StringComparison.Ordinal);
        Assert.Empty(azure.Writes);
    }

    [Fact]
    public async Task An_attempt_after_one_that_died_while_polling_follows_the_same_operation_and_never_restarts_twice()
    {
        azure.AddVm("rg-web", "web-1");
        azure.PollsBeforeDone = 2;
        var action = Action();
        var with = Vm("restart", "web-1");

        // Attempt 1 requests the restart, saves the operation's status address, and dies while it polls.
        JsonNode? saved = null;
        using var dies = new CancellationTokenSource();
        var first = new ActionRequest("run_1", "step", 1, "run_1/3/1", "run_1/3", with, NullLogger.Instance, null, p =>
        {
            saved = p.DeepClone();
            dies.Cancel();
            return Task.CompletedTask;
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => action.ExecuteAsync(first, dies.Token));
        var post = Assert.Single(azure.Writes);
        Assert.Equal(FakeAzure.VmPath("rg-web", "web-1") + "/restart", post.Path);
        Assert.NotNull(saved);
        Assert.Equal(("restart", FakeAzure.VmPath("rg-web", "web-1"), "Azure-AsyncOperation", 1), (saved["azure_operation"]!.GetValue<string>(), saved["resource"]!.GetValue<string>(), saved["via"]!.GetValue<string>(), saved["attempt"]!.GetValue<int>()));
        Assert.Contains("/operations/op-", saved["status_url"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(azure.AccessToken, saved.ToJsonString(), StringComparison.Ordinal);

        // Attempt 2 is handed that progress: it follows the operation to its end and sends no second restart.
        var second = new ActionRequest("run_1", "step", 2, "run_1/3/2", "run_1/3", with, NullLogger.Instance, saved, _ => throw new InvalidOperationException("a resumed attempt saves nothing new"));
        var result = await Drive(() => action.ExecuteAsync(second, CancellationToken.None));
        Assert.Single(azure.Writes);
        Assert.True(result["changed"]!.GetValue<bool>());
        Assert.True(result["resumed"]!.GetValue<bool>());
        Assert.Equal("running", result["power_state"]!.GetValue<string>());
        var polls = azure.Requests.Where(r => r.Path.Contains("/operations/", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, polls.Count); // InProgress, InProgress, Succeeded: all of the one operation
        Assert.Single(polls.Select(p => p.Path).Distinct());
        Assert.All(polls, p => Assert.Equal($"Bearer {azure.AccessToken}", p.Header("Authorization")));
    }

    [Fact]
    public async Task A_recorded_operation_that_cannot_be_followed_fails_the_step_without_requesting_it_again()
    {
        azure.AddVm("rg-web", "web-1");
        var action = Action();
        var with = Vm("restart", "web-1");
        JsonObject Progress(string url) => new()
        {
            ["azure_operation"] = "restart",
            ["resource"] = FakeAzure.VmPath("rg-web", "web-1"),
            ["status_url"] = url,
            ["via"] = "Azure-AsyncOperation",
            ["attempt"] = 1,
            ["requested_at"] = "2026-12-07T09:00:00.0000000+00:00",
        };
        ActionRequest Resumed(JsonObject progress) => new("run_1", "step", 2, "run_1/3/2", "run_1/3", with, NullLogger.Instance, progress);

        // Azure no longer knows the operation.
        var lost = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Resumed(Progress($"{azure.Url}/subscriptions/{FakeAzure.Subscription}/providers/Microsoft.Compute/locations/westeurope/operations/op-gone?api-version=2023-07-01")), CancellationToken.None));
        Assert.Equal(("AzureOperationLost", true), (lost.Kind, lost.NonRetryable));
        Assert.Equal("virtual machine rg-web/web-1: Azure no longer knows the restart requested by attempt 1 at 2026-12-07 09:00:00Z; it is not requested again: check the virtual machine, then retry the run", lost.Message);

        // A status address outside the cloud's endpoint (a tampered store) is not sent the token.
        var elsewhere = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Resumed(Progress("https://attacker.example/operations/1")), CancellationToken.None));
        Assert.Equal("AzureOperationLost", elsewhere.Kind);
        Assert.Contains("outside 127.0.0.1", elsewhere.Message, StringComparison.Ordinal);
        Assert.Empty(azure.Writes);

        // Progress for another operation or VM is not this step's: the restart is requested as usual.
        var other = Progress("https://attacker.example/operations/1");
        other["resource"] = FakeAzure.VmPath("rg-web", "web-9");
        var result = await Drive(() => action.ExecuteAsync(Resumed(other), CancellationToken.None));
        Assert.Null(result["resumed"]);
        Assert.Single(azure.Writes);
    }

    [Fact]
    public async Task Inputs_are_checked_before_anything_is_sent()
    {
        var action = Action();
        async Task<string> Invalid(JsonObject with)
        {
            var ex = await Assert.ThrowsAsync<StepException>(() => action.ExecuteAsync(Request(with), CancellationToken.None));
            Assert.Equal("InvalidInput", ex.Kind);
            return ex.Message;
        }

        Assert.Equal("azure: name exactly one of 'vm' and 'scale_set'", await Invalid(new JsonObject { ["operation"] = "get", ["resource_group"] = "rg", ["subscription"] = FakeAzure.Subscription }));
        Assert.Equal("azure: 'scale' applies to a scale set ('scale_set'), not a virtual machine", await Invalid(Vm("scale", "web-1")));
        Assert.StartsWith("azure: 'vm' must be an Azure resource name", await Invalid(Vm("restart", "../../../providers/x")), StringComparison.Ordinal);
        Assert.Equal($"azure: no subscription: set 'subscription' on the step or {AzureAction.SubscriptionVariable} for the worker", await Invalid(new JsonObject { ["operation"] = "get", ["resource_group"] = "rg", ["vm"] = "a" }));
        Assert.Empty(azure.Requests);
    }

    private static JsonObject Vm(string operation, string name) =>
        new() { ["operation"] = operation, ["resource_group"] = "rg-web", ["vm"] = name, ["subscription"] = FakeAzure.Subscription };

    private static ActionRequest Request(JsonObject with) => new("run_1", "step", 1, "run_1/3/1", "run_1/3", with, NullLogger.Instance);

    /// <summary>Runs an execution, moving the clock each time it waits between status polls (Retry-After 10 s, then 5 s).</summary>
    private async Task<T> Drive<T>(Func<Task<T>> start)
    {
        var ten = time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        var five = time.WaitForTimerAsync(TimeSpan.FromSeconds(5));
        var task = start();
        for (var turns = 0; turns < 20; turns++)
        {
            var done = await Task.WhenAny(task, ten, five);
            if (done == task)
            {
                return await task;
            }

            if (done == ten)
            {
                ten = time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
                time.Advance(TimeSpan.FromSeconds(10));
            }
            else
            {
                five = time.WaitForTimerAsync(TimeSpan.FromSeconds(5));
                time.Advance(TimeSpan.FromSeconds(5));
            }
        }

        throw new InvalidOperationException("the operation was still polling after 20 polls");
    }

    /// <summary>The action with the SDK pointed at the fake: an https ARM environment and a transport that trusts the test CA.</summary>
    private AzureAction Action(string? secret = null)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
        {
            if (cert is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(certificates.Authority);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
            return chain.Build(leaf);
        };
        var http = new HttpClient(handler);
        clients.Add(http);
        var transport = new HttpClientTransport(http);
        var credential = new ClientSecretCredential(FakeAzure.Tenant, FakeAzure.ClientId, secret ?? azure.ClientSecret, new ClientSecretCredentialOptions
        {
            AuthorityHost = new Uri(azure.Url),
            DisableInstanceDiscovery = true,
            Transport = transport,
            Retry = { MaxRetries = 0 },
        });
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(new Uri(azure.Url), "https://management.azure.com"),
            Transport = transport,
            Retry = { MaxRetries = 0 },
        };
        var connection = AzureConnection.Create(credential, options);
        return new AzureAction(time, _ => connection, _ => null);
    }
}
