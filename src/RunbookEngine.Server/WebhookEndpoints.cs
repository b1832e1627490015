using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RunbookEngine.Alerts;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

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
        var router = new AlertRouter(context.Service, context.Loggers.CreateLogger("runbook.alerts"), context.Time);
        var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = context.Options.MaxConcurrentWebhooks,
            QueueLimit = context.Options.WebhookQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        context.Disposables.Add(limiter);
        context.WebhookLimiter = limiter;
        var receiver = new Receiver(context, limiter, router);

        app.MapPost("/hooks/alertmanager", (HttpContext http) => receiver.ReceiveAsync(http, AlertmanagerPayload.Source, AlertmanagerPayload.Parse));

        // Grafana's webhook contact point sends POST or PUT, as configured.
        app.MapMethods("/hooks/grafana", ["POST", "PUT"], (HttpContext http) => receiver.ReceiveAsync(http, GrafanaPayload.Source, GrafanaPayload.Parse));
        app.MapPost("/hooks/pagerduty", (HttpContext http) => receiver.ReceiveAsync(http, PagerDutyPayload.Source, PagerDutyPayload.Parse));
        app.MapPost("/hooks/azure-monitor", (HttpContext http) => receiver.ReceiveAsync(http, AzureMonitorPayload.Source, AzureMonitorPayload.Parse));
        app.MapPost("/hooks/{source}", (HttpContext http) =>
        {
            var name = http.Request.RouteValues["source"]?.ToString() ?? string.Empty;
            return context.Options.Sources.TryGetValue(name, out var source) && source.Mapping is { } mapping
                ? receiver.ReceiveAsync(http, name, payload => GenericPayload.Parse(payload, name, mapping))
                : NotFoundAsync(http, context);
        });
        app.MapFallback("/hooks/{**rest}", (HttpContext http) => NotFoundAsync(http, context));
    }

    private static Task NotFoundAsync(HttpContext http, ServerContext context)
    {
        var sources = WebhookSources.BuiltIn.Concat(context.Options.Sources.Values.Where(s => s.Mapping is not null).Select(s => s.Name)).Select(s => "/hooks/" + s);
        return ServerErrors.WriteAsync(http, 404, "not_found", $"no webhook at {http.Request.Method} {http.Request.Path}; sources: {string.Join(", ", sources)}");
    }

    /// <summary>Receives one delivery: credentials, a slot, the body, the alerts, routing.</summary>
    private sealed class Receiver(ServerContext context, ConcurrencyLimiter limiter, AlertRouter router)
    {
        // Signatures accepted within their window (by source): a delivery replayed with the same one is refused.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> accepted = new(StringComparer.Ordinal);

        public async Task ReceiveAsync(HttpContext http, string source, Func<JsonNode?, IReadOnlyList<Alert>> parse)
        {
            try
            {
                await ReceiveCoreAsync(http, source, parse).ConfigureAwait(false);
            }
            catch (RunbookServiceException)
            {
                Telemetry.Webhook(source, "refused");
                throw;
            }
        }

        private async Task ReceiveCoreAsync(HttpContext http, string source, Func<JsonNode?, IReadOnlyList<Alert>> parse)
        {
            // Credentials first: an unauthenticated request is refused before it can take a slot or be read. A source
            // that signs its deliveries is checked against its secrets once the body is read.
            var auth = AuthOf(source);
            var signature = auth is SignatureAuth ? SignatureOf(http) : null;
            var hmac = auth is HmacAuth h ? HmacOf(http, source, h) : default;
            Authenticate(http, source, auth);

            using var lease = await limiter.AcquireAsync(1, http.RequestAborted).ConfigureAwait(false);
            if (!lease.IsAcquired)
            {
                Telemetry.Webhook(source, "throttled");
                http.Response.Headers.RetryAfter = "1";
                await ServerErrors.WriteAsync(http, 429, "overloaded", "too many alert notifications at once; retry after 1 s (nothing from this request was stored)").ConfigureAwait(false);
                return;
            }

            var body = await ApiEndpoints.BytesAsync(http, http.RequestAborted).ConfigureAwait(false);
            if (auth is SignatureAuth signed && !PagerDutyPayload.Verify(body, signature!, signed.Secrets))
            {
                throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"{PagerDutyPayload.SignatureHeader} does not match the body for any configured secret; nothing was stored");
            }

            string? replayKey = null;
            if (auth is HmacAuth keyed)
            {
                if (!keyed.Verify(body, hmac.Signature!, hmac.Timestamp))
                {
                    throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"{keyed.Header} does not match the body{(keyed.TimestampHeader is null ? string.Empty : " and " + keyed.TimestampHeader)} for any configured secret of '{source}'; nothing was stored");
                }

                if (keyed.TimestampHeader is not null)
                {
                    replayKey = source + ":" + HmacAuth.Normalize(hmac.Signature!);
                    Forget();
                    if (!accepted.TryAdd(replayKey, hmac.SignedAt!.Value + keyed.Tolerance))
                    {
                        throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"this {keyed.Header} was already accepted: a replayed delivery is refused; nothing was stored");
                    }
                }
            }

            try
            {
                await RouteAsync(http, source, parse, body).ConfigureAwait(false);
            }
            catch when (replayKey is not null)
            {
                accepted.TryRemove(replayKey, out _); // not accepted: the sender's retry of it must get through
                throw;
            }
        }

        /// <summary>Forgets accepted signatures whose window has passed: they are refused by their timestamp now.</summary>
        private void Forget()
        {
            var now = context.Time.GetUtcNow();
            foreach (var (key, until) in accepted)
            {
                if (until < now)
                {
                    accepted.TryRemove(key, out _);
                }
            }
        }

        private async Task RouteAsync(HttpContext http, string source, Func<JsonNode?, IReadOnlyList<Alert>> parse, byte[] body)
        {
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

            // A live game day marks its notifications: the runs they start are the drill's, never incidents.
            var drill = LocalRunbookService.CheckDrillName(http.Request.Headers[AlertRouter.DrillHeader].ToString() is { Length: > 0 } d ? d : null);

            // Routing awaits every start: when the 202 goes out, the runs are in the store.
            var outcomes = await router.RouteAsync(alerts, payload, http.RequestAborted, drill).ConfigureAwait(false);
            Telemetry.Webhook(source, "accepted");
            foreach (var outcome in outcomes)
            {
                Telemetry.Alerts.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("outcome", outcome.Outcome), new KeyValuePair<string, object?>("drill", drill is not null));
            }

            context.Options.Progress?.Invoke();
            http.Response.StatusCode = StatusCodes.Status202Accepted;
            await http.Response.WriteAsJsonAsync(new { alerts = alerts.Count, outcomes }, ApiEndpoints.Json, http.RequestAborted).ConfigureAwait(false);
        }

        /// <summary>The source's own credential from the configuration; null means an operator API token.</summary>
        private WebhookAuth? AuthOf(string source) =>
            context.Options.Sources.GetValueOrDefault(source)?.Auth
            ?? (source == PagerDutyPayload.Source && context.Options.PagerDutySecrets.Count > 0 ? new SignatureAuth(context.Options.PagerDutySecrets) : null);

        /// <summary>The HMAC signature and timestamp headers of a delivery, checked before its body is read.</summary>
        private (string? Signature, string? Timestamp, DateTimeOffset? SignedAt) HmacOf(HttpContext http, string source, HmacAuth auth)
        {
            var signature = http.Request.Headers[auth.Header].ToString() is { Length: > 0 } s
                ? s
                : throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"missing {auth.Header}: /hooks/{source} accepts only deliveries signed with the source's secret (HMAC-SHA256, hex); nothing was stored");
            if (auth.TimestampHeader is not { } header)
            {
                return (signature, null, null);
            }

            var text = http.Request.Headers[header].ToString();
            if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds > 253402300799)
            {
                throw new RunbookServiceException(ServiceErrorKind.Unauthorized, text.Length == 0
                    ? $"missing {header}: /hooks/{source} accepts only deliveries signed with a timestamp (Unix seconds); nothing was stored"
                    : $"{header} must be a Unix time in seconds; nothing was stored");
            }

            var at = DateTimeOffset.FromUnixTimeSeconds(seconds);
            var skew = TimeSpan.FromSeconds(seconds - context.Time.GetUtcNow().ToUnixTimeSeconds()); // in whole seconds, as signed
            if (skew.Duration() > auth.Tolerance)
            {
                throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"{header} is {Durations.Format(skew.Duration())} {(skew < TimeSpan.Zero ? "behind" : "ahead of")} the server's clock, beyond the {Durations.Format(auth.Tolerance)} window: a replayed or delayed delivery, or a clock to fix; nothing was stored");
            }

            return (signature, text, at);
        }

        private static string SignatureOf(HttpContext http) =>
            http.Request.Headers[PagerDutyPayload.SignatureHeader].ToString() is { Length: > 0 } s
                ? s
                : throw new RunbookServiceException(ServiceErrorKind.Unauthorized, $"missing {PagerDutyPayload.SignatureHeader}: this webhook accepts only deliveries signed with the subscription's secret");

        private void Authenticate(HttpContext http, string source, WebhookAuth? auth)
        {
            var header = http.Request.Headers.Authorization.ToString();
            switch (auth)
            {
                case null:
                    // An action group's webhook cannot set headers: its URL may carry the token (use https beyond loopback).
                    ApiEndpoints.AuthorizeToken(http, context, ApiRole.Operator, queryToken: source == AzureMonitorPayload.Source);
                    return;
                case SignatureAuth or HmacAuth:
                    return;
                case BearerAuth bearer:
                    if (!(AuthenticationHeaderValue.TryParse(header, out var b) && string.Equals(b.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase) && WebhookAuth.Same(b.Parameter ?? string.Empty, bearer.Token)))
                    {
                        throw Refused(source, "'Authorization: Bearer' with the source's token");
                    }

                    return;
                case BasicAuth basic:
                    if (!(AuthenticationHeaderValue.TryParse(header, out var h) && string.Equals(h.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && Decode(h.Parameter) is { } pair
                        && WebhookAuth.Same(pair.User, basic.Username) & WebhookAuth.Same(pair.Password, basic.Password)))
                    {
                        throw Refused(source, "HTTP basic authentication with the source's user and password");
                    }

                    return;
                case QueryTokenAuth query:
                    if (!WebhookAuth.Same(http.Request.Query["token"].ToString(), query.Token))
                    {
                        throw Refused(source, "the source's token as ?token=");
                    }

                    return;
            }
        }

        private static RunbookServiceException Refused(string source, string needed) =>
            new(ServiceErrorKind.Unauthorized, $"/hooks/{source} accepts only {needed} (the server configuration's auth for '{source}'); nothing was stored");

        private static (string User, string Password)? Decode(string? parameter)
        {
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(parameter ?? string.Empty));
                var colon = text.IndexOf(':', StringComparison.Ordinal);
                return colon < 0 ? null : (text[..colon], text[(colon + 1)..]);
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }
}
