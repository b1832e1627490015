using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RunbookEngine.Alerts;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Server;

/// <summary>
/// Alert webhooks under <c>/hooks</c>. A notification is answered 202 only after every run it starts is
/// stored; when too many arrive at once the server sheds them with 429 and Retry-After (the sender retries),
/// so nothing accepted is lost.
/// </summary>
internal static class WebhookEndpoints
{
    public static void Map(WebApplication app, ServerContext context)
    {
        var router = new AlertRouter(context.Service, context.Store, context.Loggers.CreateLogger("runbook.alerts"), context.Time);
        var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = context.Options.MaxConcurrentWebhooks,
            QueueLimit = context.Options.WebhookQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        context.Disposables.Add(limiter);

        app.MapPost("/hooks/alertmanager", (HttpContext http) => ReceiveAsync(http, context, limiter, router, AlertmanagerPayload.Parse));
        app.MapPost("/hooks/grafana", (HttpContext http) => ReceiveAsync(http, context, limiter, router, GrafanaPayload.Parse));
        app.MapPost("/hooks/pagerduty", (HttpContext http) => ReceiveAsync(http, context, limiter, router, PagerDutyPayload.Parse, context.Options.PagerDutySecrets));

        // An action group's webhook cannot set headers: its URL carries the token (use https beyond loopback).
        app.MapPost("/hooks/azure-monitor", (HttpContext http) => ReceiveAsync(http, context, limiter, router, AzureMonitorPayload.Parse, queryToken: true));
        app.MapFallback("/hooks/{**rest}", (HttpContext http) => ServerErrors.WriteAsync(http, 404, "not_found", $"no webhook at {http.Request.Path}; sources: /hooks/alertmanager, /hooks/grafana, /hooks/pagerduty, /hooks/azure-monitor"));
    }

    private static async Task ReceiveAsync(HttpContext http, ServerContext context, ConcurrencyLimiter limiter, AlertRouter router, Func<JsonNode?, IReadOnlyList<Alert>> parse, IReadOnlyList<string>? signingSecrets = null, bool queryToken = false)
    {
        // Credentials first: an unauthenticated request is refused before it can take a slot or be read. A source
        // that signs its deliveries is checked against its secrets instead of an API token.
        var signed = signingSecrets is { Count: > 0 };
        var signature = http.Request.Headers[PagerDutyPayload.SignatureHeader].ToString();
        if (!signed)
        {
            ApiEndpoints.Authorize(http, context, ApiRole.Operator, queryToken);
        }
        else if (signature.Length == 0)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"missing {PagerDutyPayload.SignatureHeader}: this webhook accepts only deliveries signed with the subscription's secret");
        }

        using var lease = await limiter.AcquireAsync(1, http.RequestAborted).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            http.Response.Headers.RetryAfter = "1";
            await ServerErrors.WriteAsync(http, 429, "overloaded", "too many alert notifications at once; retry after 1 s (nothing from this request was stored)").ConfigureAwait(false);
            return;
        }

        var body = await ApiEndpoints.BytesAsync(http, http.RequestAborted).ConfigureAwait(false);
        if (signed && !PagerDutyPayload.Verify(body, signature, signingSecrets!))
        {
            throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"{PagerDutyPayload.SignatureHeader} does not match the body for any configured secret; nothing was stored");
        }

        var payload = ApiEndpoints.ParseJson(body);
        IReadOnlyList<Alert> alerts;
        try
        {
            alerts = parse(payload);
        }
        catch (AlertPayloadException ex)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, ex.Message);
        }

        // Routing awaits every start: when the 202 goes out, the runs are in the store.
        var outcomes = await router.RouteAsync(alerts, payload, http.RequestAborted).ConfigureAwait(false);
        context.Options.Progress?.Invoke();
        http.Response.StatusCode = StatusCodes.Status202Accepted;
        await http.Response.WriteAsJsonAsync(new { alerts = alerts.Count, outcomes }, ApiEndpoints.Json, http.RequestAborted).ConfigureAwait(false);
    }
}
