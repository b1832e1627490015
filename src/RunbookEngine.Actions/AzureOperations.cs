using System.Globalization;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>An ARM client for one cloud, and a pipeline with the same credential for following an operation by its address.</summary>
/// <param name="Arm">The Resource Manager client.</param>
/// <param name="Pipeline">A pipeline that authenticates to the same cloud.</param>
/// <param name="Endpoint">The cloud's Resource Manager endpoint: a status address is only followed there.</param>
internal sealed record AzureConnection(ArmClient Arm, HttpPipeline Pipeline, Uri Endpoint)
{
    /// <summary>Connects with a credential and client options.</summary>
    public static AzureConnection Create(TokenCredential credential, ArmClientOptions options)
    {
        var environment = options.Environment ?? ArmEnvironment.AzurePublicCloud;
        return new AzureConnection(
            new ArmClient(credential, null, options),
            HttpPipelineBuilder.Build(options, new BearerTokenAuthenticationPolicy(credential, environment.DefaultScope)),
            environment.Endpoint);
    }
}

/// <content>Following an operation an earlier attempt requested.</content>
public sealed partial class AzureAction
{
    /// <summary>
    /// A long-running operation an attempt requested, as saved in the step's progress: the status address Azure
    /// answered (<c>Azure-AsyncOperation</c>, else <c>Location</c>), what it is for, who requested it and when.
    /// </summary>
    private sealed record StartedOperation(string Operation, string Resource, Uri StatusUrl, string Via, int Attempt, DateTimeOffset At)
    {
        private const string AsyncOperation = "Azure-AsyncOperation";
        private const string Location = "Location";

        /// <summary>The operation a 201/202 answer started, or null when Azure gave no address to follow.</summary>
        public static StartedOperation? Of(Response response, Target target, int attempt, DateTimeOffset at)
        {
            foreach (var header in new[] { AsyncOperation, Location })
            {
                if (response.Headers.TryGetValue(header, out var value) && Uri.TryCreate(value, UriKind.Absolute, out var url))
                {
                    return new StartedOperation(target.Operation, target.Id.ToString(), url, header, attempt, at);
                }
            }

            return null;
        }

        /// <summary>The operation saved in <paramref name="progress"/> when it is this step's operation on this resource.</summary>
        public static StartedOperation? From(JsonNode? progress, Target target)
        {
            if (progress is not JsonObject p
                || With.String(p, "azure_operation") is not { } operation || operation != target.Operation
                || With.String(p, "resource") is not { } resource || !string.Equals(resource, target.Id.ToString(), StringComparison.OrdinalIgnoreCase)
                || With.String(p, "status_url") is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var statusUrl)
                || With.String(p, "via") is not { } via || via is not (AsyncOperation or Location))
            {
                return null;
            }

            var attempt = p["attempt"] is JsonValue a && a.TryGetValue<int>(out var n) ? n : 0;
            var at = p["requested_at"] is JsonValue t && t.TryGetValue<string>(out var text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var when) ? when : DateTimeOffset.MinValue;
            return new StartedOperation(operation, resource, statusUrl, via, attempt, at);
        }

        public JsonObject ToJson() => new()
        {
            ["azure_operation"] = Operation,
            ["resource"] = Resource,
            ["status_url"] = StatusUrl.ToString(),
            ["via"] = Via,
            ["attempt"] = Attempt,
            ["requested_at"] = At.ToString("O", CultureInfo.InvariantCulture),
        };

        /// <summary>Polls the status address until Azure says the operation ended, on the action's clock.</summary>
        public async Task FollowAsync(AzureConnection connection, Target target, DateTimeOffset deadline, TimeProvider time, CancellationToken cancellationToken)
        {
            // The address comes from the store: the credential's token is only ever sent to this cloud's endpoint.
            if (StatusUrl.Scheme != Uri.UriSchemeHttps || !string.Equals(StatusUrl.Authority, connection.Endpoint.Authority, StringComparison.OrdinalIgnoreCase))
            {
                throw new StepException("AzureOperationLost", $"{target}: the {Operation} requested by attempt {Attempt} has a status address outside {connection.Endpoint.Authority} ({StatusUrl.Authority}); it is not followed and not requested again: check the virtual machine, then retry the run", nonRetryable: true);
            }

            while (true)
            {
                using var message = connection.Pipeline.CreateMessage();
                message.Request.Method = RequestMethod.Get;
                message.Request.Uri.Reset(StatusUrl);
                await connection.Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
                var response = message.Response;
                if (response.Status == 404)
                {
                    throw new StepException("AzureOperationLost", $"{target}: Azure no longer knows the {Operation} requested by attempt {Attempt} at {At:u}; it is not requested again: check the virtual machine, then retry the run", nonRetryable: true);
                }

                if (response.Status >= 400)
                {
                    throw new RequestFailedException(response);
                }

                if (Via == Location ? response.Status != 202 : Ended(response, target))
                {
                    return;
                }

                if (time.GetUtcNow() >= deadline)
                {
                    throw new StepException("AzureOperationTimedOut", $"{target}: the {Operation} requested by attempt {Attempt} did not finish by {deadline:u}; Azure may still complete it ({StatusUrl.GetLeftPart(UriPartial.Path)})", nonRetryable: true);
                }

                await Task.Delay(NextPoll(response), time, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Whether an Azure-AsyncOperation status says the operation succeeded; a failure is thrown.</summary>
        private bool Ended(Response response, Target target)
        {
            var body = JsonNode.Parse(response.Content.ToString()) as JsonObject;
            var status = body?["status"]?.GetValue<string>();
            switch (status)
            {
                case "Succeeded":
                    return true;
                case "Failed" or "Canceled":
                    var error = body!["error"] as JsonObject;
                    var detail = error is null ? string.Empty : $": {error["code"]?.GetValue<string>()}: {error["message"]?.GetValue<string>()}";
                    throw new StepException("AzureError", $"{target}: {Operation} ended {status}{detail}", nonRetryable: true);
                default:
                    return false;
            }
        }
    }
}
