using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// An instant PromQL query through Prometheus' HTTP API (<c>GET /api/v1/query</c>). Read-only: its plan runs the
/// query too, so a dry-run shows the current value. Used directly, in <c>wait_until</c>, and in <c>verify:</c>.
/// </summary>
public sealed class PrometheusAction : IRunbookAction
{
    /// <summary>The environment variable giving the Prometheus URL when a step does not.</summary>
    public const string UrlVariable = "RUNBOOK_PROMETHEUS_URL";

    private const int MaxBody = 4 << 20;

    private readonly TimeProvider time;

    /// <summary>Initializes a new instance of the <see cref="PrometheusAction"/> class.</summary>
    public PrometheusAction()
        : this(TimeProvider.System)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PrometheusAction"/> class.</summary>
    /// <param name="time">The clock of the waits between tries within an attempt.</param>
    internal PrometheusAction(TimeProvider time) => this.time = time;

    /// <inheritdoc/>
    public string Name => "prometheus";

    /// <inheritdoc/>
    public string Description => "Run an instant PromQL query; result.value is the first sample's value, result.series every series.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.ReadOnly;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("query", ParameterType.String, true, "The PromQL expression, e.g. 'disk_used_percent{host=\"web-1\"}'."),
        new("url", ParameterType.String, false, $"The Prometheus base URL, e.g. http://prometheus:9090; default the worker's {UrlVariable}."),
        new("headers", ParameterType.Map, false, "Request headers, e.g. Authorization (values may be secret references)."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["value", "series", "count", "result_type"];

    /// <inheritdoc/>
    public async Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var query = With.RequiredString(request.With, "query", Name);
        var url = BaseUrl(request);
        var details = new JsonObject { ["url"] = url };

        // Reading is what this action does, so the plan shows the current value; headers are not sent (they
        // may hold secret references, which plans never resolve), so a server that needs them shows an error here.
        if (!request.With.ContainsKey("headers"))
        {
            try
            {
                details["current"] = await QueryAsync(url, query, new Dictionary<string, string>(), cancellationToken).ConfigureAwait(false);
            }
            catch (StepException ex)
            {
                details["current_error"] = ex.Message;
            }
        }

        return new ActionPlan(Name, "query", query, $"would query {url}: {query}", SideEffect.ReadOnly, details);
    }

    /// <inheritdoc/>
    public Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return QueryAsync(BaseUrl(request), With.RequiredString(request.With, "query", Name), With.Map(request.With, "headers"), cancellationToken);
    }

    private static string BaseUrl(ActionRequest request)
    {
        var url = With.String(request.With, "url") ?? Environment.GetEnvironmentVariable(UrlVariable);
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new StepException("InvalidInput", $"prometheus: no URL: set 'url' on the step or {UrlVariable} for the worker", nonRetryable: true);
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new StepException("InvalidInput", $"prometheus: '{url}' is not an absolute http(s) URL", nonRetryable: true);
        }

        return url.TrimEnd('/');
    }

    private async Task<JsonObject> QueryAsync(string url, string query, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        HttpRequestMessage Message()
        {
            var message = new HttpRequestMessage(HttpMethod.Get, $"{url}/api/v1/query?query={Uri.EscapeDataString(query)}");
            foreach (var (k, v) in headers)
            {
                message.Headers.TryAddWithoutValidation(k, v);
            }

            return message;
        }

        string text;
        int status;
        try
        {
            using var response = await Transient.SendAsync(ActionHttp.Client, Message, isRead: true, time, cancellationToken).ConfigureAwait(false);
            status = (int)response.StatusCode;
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (text.Length > MaxBody)
            {
                throw new StepException("PrometheusError", $"the answer to '{query}' from {url} is larger than 4 MiB; aggregate the query (sum, topk)", nonRetryable: true);
            }
        }
        catch (HttpRequestException ex)
        {
            throw new StepException("PrometheusUnreachable", $"{url}: {ex.Message}");
        }

        if (With.TryParseJson(text) is not JsonObject body || body["status"] is null)
        {
            throw new StepException("PrometheusError", $"{url} answered {status} with something that is not Prometheus' API JSON: {Snippet(text)}");
        }

        if (body["status"]!.GetValue<string>() != "success")
        {
            // bad_data is a wrong query: retrying cannot help. Anything else (timeouts, unavailable) may pass.
            var type = body["errorType"]?.GetValue<string>() ?? "error";
            throw new StepException("PrometheusError", $"query '{query}' failed: {type}: {body["error"]?.GetValue<string>()}", nonRetryable: type == "bad_data");
        }

        var data = body["data"] as JsonObject ?? [];
        var resultType = data["resultType"]?.GetValue<string>() ?? "unknown";
        var series = new JsonArray();
        JsonNode? first = null;
        switch (data["result"])
        {
            case JsonArray items when resultType is "vector" or "matrix":
                foreach (var item in items.OfType<JsonObject>())
                {
                    var sample = resultType == "vector" ? item["value"] as JsonArray : (item["values"] as JsonArray)?.LastOrDefault() as JsonArray;
                    var value = Number(sample);
                    first ??= value;
                    series.Add(new JsonObject { ["labels"] = item["metric"]?.DeepClone() ?? new JsonObject(), ["value"] = value, ["at"] = Timestamp(sample) });
                }

                break;
            case JsonArray sample: // scalar and string: [time, "value"]
                first = resultType == "string" ? JsonValue.Create(sample.Count > 1 ? sample[1]?.GetValue<string>() : null) : Number(sample);
                series.Add(new JsonObject { ["labels"] = new JsonObject(), ["value"] = first?.DeepClone(), ["at"] = Timestamp(sample) });
                break;
        }

        return With.Object(("value", first?.DeepClone()), ("series", series), ("count", series.Count), ("result_type", resultType));
    }

    /// <summary>Prometheus sends sample values as strings ("97.5", "NaN", "+Inf"); finite ones become numbers.</summary>
    private static JsonNode? Number(JsonArray? sample)
    {
        var text = sample is { Count: > 1 } && sample[1] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        return text is not null && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            ? JsonValue.Create(d)
            : text is null ? null : JsonValue.Create(text);
    }

    private static JsonNode? Timestamp(JsonArray? sample) =>
        sample is { Count: > 0 } && sample[0] is JsonValue v && v.TryGetValue<double>(out var t)
            ? JsonValue.Create(DateTimeOffset.FromUnixTimeMilliseconds((long)(t * 1000)).ToString("O", CultureInfo.InvariantCulture))
            : null;

    private static string Snippet(string text) => text.Length > 200 ? text[..200] + "..." : text;
}
