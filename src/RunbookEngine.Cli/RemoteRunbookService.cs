using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Cli;

/// <summary>The runbook operations through a <c>runbook serve</c> server's REST API (<c>--server</c>).</summary>
internal sealed class RemoteRunbookService : IRunbookService, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient http;

    public RemoteRunbookService(string serverUrl, string? token)
    {
        if (!Uri.TryCreate(serverUrl.TrimEnd('/') + "/", UriKind.Absolute, out var baseUri) || (baseUri.Scheme != Uri.UriSchemeHttp && baseUri.Scheme != Uri.UriSchemeHttps))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"--server '{serverUrl}' is not an http:// or https:// URL (e.g. http://127.0.0.1:8080)");
        }

        if (string.IsNullOrWhiteSpace(token))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"--server {serverUrl} needs an API token: pass --token or set RUNBOOK_TOKEN (an admin creates one with `runbook token create`)");
        }

        http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("runbook-cli", typeof(RemoteRunbookService).Assembly.GetName().Version?.ToString(3) ?? "0"));
        Location = baseUri.GetLeftPart(UriPartial.Authority);
    }

    public string Location { get; }

    public Task<IReadOnlyList<RunbookInfo>> ListRunbooksAsync(CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<RunbookInfo>>(HttpMethod.Get, "api/runbooks", null, cancellationToken);

    public Task<IReadOnlyList<ValidationReport>> ValidateAsync(IReadOnlyList<RunbookSource> sources, CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<ValidationReport>>(HttpMethod.Post, "api/runbooks/validate", new { sources }, cancellationToken);

    public Task<StartedRun> StartAsync(StartRequest request, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<StartedRun>(HttpMethod.Post, "api/runs", request, cancellationToken);

    public Task<IReadOnlyList<RunView>> ListRunsAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var query = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"api/runs?limit={filter.Limit}")
            + Param("status", filter.Status) + Param("runbook", filter.Runbook) + Param("started_by", filter.StartedBy) + Param("target", filter.Target);
        return SendAsync<IReadOnlyList<RunView>>(HttpMethod.Get, query, null, cancellationToken);

        static string Param(string name, string? value) => value is null ? string.Empty : $"&{name}={Uri.EscapeDataString(value)}";
    }

    public async Task<RunView> GetRunAsync(string runId, CancellationToken cancellationToken) =>
        (await GetRunDetailAsync(runId, cancellationToken).ConfigureAwait(false)).Run;

    public Task<RunDetail> GetRunDetailAsync(string runId, CancellationToken cancellationToken) =>
        SendAsync<RunDetail>(HttpMethod.Get, $"api/runs/{Uri.EscapeDataString(runId)}", null, cancellationToken);

    public Task<TimelineView> GetTimelineAsync(string runId, long afterSequence, CancellationToken cancellationToken) =>
        SendAsync<TimelineView>(HttpMethod.Get, $"api/runs/{Uri.EscapeDataString(runId)}/timeline?after={afterSequence}", null, cancellationToken);

    public Task<DecisionResult> DecideAsync(string runId, bool approve, string? step, string? comment, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<DecisionResult>(HttpMethod.Post, $"api/runs/{Uri.EscapeDataString(runId)}/{(approve ? "approve" : "reject")}", new { step, comment }, cancellationToken);

    public Task<CancelResult> CancelAsync(string runId, string? reason, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<CancelResult>(HttpMethod.Post, $"api/runs/{Uri.EscapeDataString(runId)}/cancel", new { reason }, cancellationToken);

    public Task<StartedRun> RetryAsync(string runId, string? fromStep, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<StartedRun>(HttpMethod.Post, $"api/runs/{Uri.EscapeDataString(runId)}/retry", new { from_step = fromStep }, cancellationToken);

    public Task<IReadOnlyList<ReceivedAlertView>> ListAlertsAsync(string? outcome, string? source, int limit, CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<ReceivedAlertView>>(HttpMethod.Get, $"api/alerts?limit={limit}" + (outcome is null ? string.Empty : "&outcome=" + Uri.EscapeDataString(outcome)) + (source is null ? string.Empty : "&source=" + Uri.EscapeDataString(source)), null, cancellationToken);

    public Task<IReadOnlyList<GuardView>> ListGuardsAsync(string? runbook, CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<GuardView>>(HttpMethod.Get, runbook is null ? "api/guards" : $"api/guards?runbook={Uri.EscapeDataString(runbook)}", null, cancellationToken);

    public Task<GuardView> ResetGuardAsync(string key, string reason, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<GuardView>(HttpMethod.Post, "api/guards/reset", new { key, reason }, cancellationToken);

    public Task<DrillReportView> SaveDrillReportAsync(System.Text.Json.Nodes.JsonObject report, string mode, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<DrillReportView>(HttpMethod.Post, "api/drills", new { mode, report }, cancellationToken);

    public Task<IReadOnlyList<DrillReportView>> ListDrillReportsAsync(string? drill, string? runbook, bool? passed, int limit, CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<DrillReportView>>(
            HttpMethod.Get,
            $"api/drills?limit={limit}" + (drill is null ? string.Empty : "&drill=" + Uri.EscapeDataString(drill)) + (runbook is null ? string.Empty : "&runbook=" + Uri.EscapeDataString(runbook)) + (passed is { } p ? (p ? "&passed=true" : "&passed=false") : string.Empty),
            null,
            cancellationToken);

    public Task RegisterLiveDrillAsync(string drill, JsonObject script, TimeSpan lifetime, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<JsonNode?>(HttpMethod.Post, $"api/drills/live/{Uri.EscapeDataString(drill)}", new JsonObject { ["script"] = script.DeepClone(), ["lifetime_seconds"] = lifetime.TotalSeconds }, cancellationToken);

    public Task EndLiveDrillAsync(string drill, Caller caller, CancellationToken cancellationToken) =>
        SendAsync<JsonNode?>(HttpMethod.Post, $"api/drills/live/{Uri.EscapeDataString(drill)}/end", new JsonObject(), cancellationToken);

    public Task<DrillReportView> GetDrillReportAsync(long id, CancellationToken cancellationToken) =>
        SendAsync<DrillReportView>(HttpMethod.Get, $"api/drills/{id}", null, cancellationToken);

    public void Dispose() => http.Dispose();

    /// <summary>Gets or sets the secret a live drill signs its PagerDuty deliveries with, for a server that takes only signed ones.</summary>
    public string? PagerDutySecret { get; set; }

    /// <summary>Posts a notification to the server's webhook for its source as a live drill's (the drill header set; PagerDuty deliveries signed when a secret is set).</summary>
    public Task<JsonNode?> DeliverDrillAlertAsync(string source, JsonObject notification, string drill, CancellationToken cancellationToken)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(notification.ToJsonString());
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var headers = new List<(string, string)> { (RunbookEngine.Alerts.AlertRouter.DrillHeader, drill) };
        if (source == RunbookEngine.Alerts.PagerDutyPayload.Source && PagerDutySecret is { } secret)
        {
            headers.Add((RunbookEngine.Alerts.PagerDutyPayload.SignatureHeader, RunbookEngine.Alerts.PagerDutyPayload.Sign(body, secret)));
        }

        return SendAsync<JsonNode?>(HttpMethod.Post, $"hooks/{source}", content, cancellationToken, [.. headers]);
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = body as HttpContent ?? JsonContent.Create(body, body.GetType(), options: Json);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unavailable, $"cannot reach the server at {Location}: {ex.Message} (is `runbook serve` running there?)");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unavailable, $"the server at {Location} did not answer within {http.Timeout.TotalSeconds:0} s");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    return JsonSerializer.Deserialize<T>(text, Json) ?? throw new JsonException("empty body");
                }
                catch (JsonException ex)
                {
                    throw new RunbookServiceException(ServiceErrorKind.Unavailable, $"the server at {Location} answered {path} with something that is not a runbook API response ({ex.Message}); is --server the right address?");
                }
            }

            throw Problem(response.StatusCode, text);
        }
    }

    private Exception Problem(HttpStatusCode status, string text)
    {
        JsonObject? error = null;
        try
        {
            error = JsonNode.Parse(text)?["error"] as JsonObject;
        }
        catch (JsonException)
        {
        }

        var message = error?["message"]?.GetValue<string>() ?? $"HTTP {(int)status} {status}";
        if (error?["problems"] is JsonArray { Count: > 0 } problems)
        {
            return new RunbookValidationException([.. problems.Select(p => new RunbookDiagnostic(
                new SourceLocation(p?["file"]?.GetValue<string>() ?? "?", p?["line"]?.GetValue<int>() ?? 1, p?["column"]?.GetValue<int>() ?? 1),
                p?["message"]?.GetValue<string>() ?? string.Empty))]);
        }

        var kind = status switch
        {
            HttpStatusCode.BadRequest => ServiceErrorKind.Invalid,
            HttpStatusCode.NotFound => ServiceErrorKind.NotFound,
            HttpStatusCode.Unauthorized => ServiceErrorKind.Unauthorized,
            HttpStatusCode.Forbidden => ServiceErrorKind.Forbidden,
            HttpStatusCode.Conflict => ServiceErrorKind.Conflict,
            _ => ServiceErrorKind.Unavailable,
        };
        return new RunbookServiceException(kind, kind switch
        {
            ServiceErrorKind.Unauthorized => $"the server at {Location} refused the token: {message}",
            ServiceErrorKind.Unavailable when error is null => $"the server at {Location} answered HTTP {(int)status}",
            _ => message,
        });
    }
}
