using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>Sends an HTTP request; a status outside <c>expect_status</c> (default any 2xx) fails the attempt.</summary>
public sealed class HttpAction : IRunbookAction
{
    private const int MaxBody = 1 << 20;

    private readonly TimeProvider time;

    /// <summary>Initializes a new instance of the <see cref="HttpAction"/> class.</summary>
    public HttpAction()
        : this(TimeProvider.System)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="HttpAction"/> class.</summary>
    /// <param name="time">The clock of the waits between tries within an attempt.</param>
    internal HttpAction(TimeProvider time) => this.time = time;

    /// <inheritdoc/>
    public string Name => "http";

    /// <inheritdoc/>
    public string Description => "Send an HTTP request; an unexpected status fails the attempt; a JSON body is parsed into result.json.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.Destructive;

    /// <inheritdoc/>
    public SideEffect Classify(JsonObject with)
    {
        ArgumentNullException.ThrowIfNull(with);
        var method = MethodOf(with);
        return method is "GET" or "HEAD" ? SideEffect.ReadOnly : method == "DELETE" ? SideEffect.Destructive : SideEffect.Mutating;
    }

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("url", ParameterType.String, true, "The absolute http or https URL."),
        new("method", ParameterType.String, false, "GET (default), HEAD, POST, PUT, PATCH or DELETE.", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
        new("headers", ParameterType.Map, false, "Request headers (values may be secret references, e.g. Authorization)."),
        new("body", ParameterType.StringOrMap, false, "The request body: a string as is, or a map sent as JSON."),
        new("expect_status", ParameterType.NumberOrList, false, "The status code(s) that count as success; default any 2xx."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["status", "headers", "body", "json"];

    /// <inheritdoc/>
    public Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var method = MethodOf(request);
        var url = With.RequiredString(request.With, "url", "http");
        var body = BodyOf(request);
        var effect = Classify(request.With);
        var summary = $"would send {method} {url}" + (body is null ? string.Empty : $" with a {Encoding.UTF8.GetByteCount(body)}-byte body");
        return Task.FromResult(new ActionPlan(Name, method, url, summary, effect, With.Object(("headers", new JsonArray([.. With.Map(request.With, "headers").Keys.Select(k => JsonValue.Create(k))])))));
    }

    /// <inheritdoc/>
    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var method = MethodOf(request);
        var url = With.RequiredString(request.With, "url", "http");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new StepException("InvalidInput", $"http: '{url}' is not an absolute http(s) URL", nonRetryable: true);
        }

        var body = BodyOf(request);
        var isJson = request.With["body"] is JsonObject or JsonArray;
        var requestHeaders = With.Map(request.With, "headers");
        HttpRequestMessage Message()
        {
            var message = new HttpRequestMessage(new HttpMethod(method), uri);
            if (body is not null)
            {
                message.Content = new StringContent(body, Encoding.UTF8, isJson ? "application/json" : "text/plain");
            }

            foreach (var (k, v) in requestHeaders)
            {
                if (!message.Headers.TryAddWithoutValidation(k, v) && message.Content is not null)
                {
                    message.Content.Headers.Remove(k);
                    message.Content.Headers.TryAddWithoutValidation(k, v);
                }
            }

            message.Headers.TryAddWithoutValidation("Idempotency-Key", request.IdempotencyKey);
            return message;
        }

        // A read whose every status is judged by the default (2xx) may be tried again within the attempt on a 503;
        // one that expects particular statuses (a probe expecting 503) is answered as it comes.
        var isRead = method is "GET" or "HEAD" && request.With["expect_status"] is null;
        HttpResponseMessage response;
        try
        {
            response = await Transient.SendAsync(ActionHttp.Client, Message, isRead, time, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new StepException("HttpError", $"{method} {url} failed: {ex.Message}");
        }

        using (response)
        {
            var text = await ReadCappedAsync(response.Content, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var headers = new JsonObject();
            foreach (var h in response.Headers.Concat(response.Content.Headers))
            {
                headers[h.Key.ToLowerInvariant()] = string.Join(", ", h.Value);
            }

            var result = With.Object(("status", status), ("headers", headers), ("body", text), ("json", IsJson(response.Content.Headers.ContentType) ? With.TryParseJson(text) : null));
            var expected = With.IntList(request.With, "expect_status");
            var ok = expected is null ? status is >= 200 and < 300 : expected.Contains(status);
            if (!ok)
            {
                var snippet = text.Length > 200 ? text[..200] + "..." : text;
                throw new StepException("HttpStatus", $"{method} {url} returned {status} (expected {(expected is null ? "2xx" : string.Join(" or ", expected))})" + (snippet.Length > 0 ? $": {snippet}" : string.Empty));
            }

            return result;
        }
    }

    private static bool IsJson(MediaTypeHeaderValue? type) =>
        type?.MediaType is { } m && (m.Equals("application/json", StringComparison.OrdinalIgnoreCase) || m.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static string MethodOf(ActionRequest request) => MethodOf(request.With);

    private static string MethodOf(JsonObject with) => (With.String(with, "method") ?? "GET").ToUpperInvariant();

    private static string? BodyOf(ActionRequest request) => request.With["body"] switch
    {
        null => null,
        JsonObject or JsonArray => request.With["body"]!.ToJsonString(),
        _ => With.String(request.With, "body"),
    };

    private static async Task<string> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxBody + 1];
            var total = 0;
            int n;
            while (total < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += n;
            }

            var text = Encoding.UTF8.GetString(buffer, 0, Math.Min(total, MaxBody));
            return total > MaxBody ? text + "\n[... body truncated at 1 MiB]" : text;
        }
    }
}
