using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server;

/// <summary>The REST API under <c>/api</c>, and <c>/healthz</c> and <c>/readyz</c>.</summary>
internal static partial class ApiEndpoints
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.Never, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>How bodies are parsed: a key given twice is an error, not "the last one wins" (or an exception later).</summary>
    private static readonly System.Text.Json.JsonDocumentOptions Document = new() { AllowDuplicateProperties = false };

    private const string CallerKey = "runbook.caller";

    /// <summary>The <see cref="ApiToken"/> behind an authorized request, in <c>HttpContext.Items</c>.</summary>
    public const string TokenKey = "runbook.token";

    /// <summary>The console session behind a request authorized by its cookie, in <c>HttpContext.Items</c>.</summary>
    public const string SessionKey = "runbook.session";

    public static void Map(WebApplication app, ServerContext context)
    {
        app.MapGet("/healthz", () => Results.Json(new { status = "ok" }, Json));
        app.MapGet("/readyz", async (CancellationToken ct) =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                await context.Service.Client.ListRunsAsync(new RunQuery { Limit = 1 }, timeout.Token).ConfigureAwait(false);
                return Results.Json(new { status = "ready", store = context.Service.Location, worker = context.Worker is not null, webhooks = Webhooks(context) }, Json);
            }
            catch (Exception ex) when (ex is WorkflowStoreException or OperationCanceledException)
            {
                return Results.Json(new { status = "unavailable", store = context.Service.Location, reason = ex.Message }, Json, statusCode: 503);
            }
        });

        var api = app.MapGroup("/api");
        var service = context.Service;

        Get(api, "/runbooks", ApiRole.Viewer, async (http, caller, ct) => await service.ListRunbooksAsync(ct).ConfigureAwait(false));
        Post(api, "/runbooks/validate", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var body = await BodyAsync<ValidateBody>(http, ct).ConfigureAwait(false);
            if (body.Sources is not { Count: > 0 })
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body needs 'sources': [{\"file\": ..., \"source\": ...}]");
            }

            return await service.ValidateAsync(body.Sources, ct).ConfigureAwait(false);
        });

        Get(api, "/runs", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var q = http.Request.Query;
            var limit = 20;
            if (q["limit"].ToString() is { Length: > 0 } l && !int.TryParse(l, out limit))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"limit '{l}' is not a number");
            }

            return await service.ListRunsAsync(
                new RunFilter
                {
                    Status = Text(q["status"]),
                    Runbook = Text(q["runbook"]),
                    StartedBy = Text(q["started_by"]),
                    Target = Text(q["target"]),
                    From = Time(q, "from"),
                    To = Time(q, "to"),
                    Before = Time(q, "before"),
                    BeforeRunId = Text(q["before_id"]),
                    Limit = limit,
                },
                ct).ConfigureAwait(false);
        });
        Post(api, "/runs", ApiRole.Operator, async (http, caller, ct) =>
        {
            var body = await BodyAsync<StartBody>(http, ct).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(body.Runbook))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body needs 'runbook': the name of a runbook (`runbook list` shows them)");
            }

            // Inputs may be JSON numbers and booleans; they are bound by the runbook's declared types like CLI text.
            var inputs = (body.Inputs ?? []).ToDictionary(
                p => p.Key,
                p => p.Value is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var text) ? text : p.Value?.ToJsonString() ?? string.Empty,
                StringComparer.Ordinal);
            var request = new StartRequest { Runbook = body.Runbook, Inputs = inputs, DryRun = body.DryRun, IdempotencyKey = body.IdempotencyKey, Drill = body.Drill };

            var started = await service.StartAsync(request, caller, ct).ConfigureAwait(false);
            http.Response.StatusCode = started.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            http.Response.Headers.Location = $"/api/runs/{started.Run.RunId}";
            return started;
        });
        Get(api, "/runs/{id}", ApiRole.Viewer, async (http, caller, ct) => await service.GetRunDetailAsync(Id(http), ct).ConfigureAwait(false));
        Get(api, "/runs/{id}/timeline", ApiRole.Viewer, async (http, caller, ct) =>
        {
            long after = 0;
            if (http.Request.Query["after"].ToString() is { Length: > 0 } a && (!long.TryParse(a, out after) || after < 0))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"after '{a}' is not a sequence number");
            }

            long? before = null;
            if (http.Request.Query["before"].ToString() is { Length: > 0 } b)
            {
                before = long.TryParse(b, out var v) && v > 0 ? v : throw new RunbookServiceException(ServiceErrorKind.Invalid, $"before '{b}' is not a sequence number");
            }

            int? last = null;
            if (http.Request.Query["last"].ToString() is { Length: > 0 } l)
            {
                last = int.TryParse(l, out var n) && n is > 0 and <= 100_000 ? n : throw new RunbookServiceException(ServiceErrorKind.Invalid, $"last '{l}' must be a count from 1 to 100000");
            }

            var kinds = http.Request.Query["kind"].Where(k => !string.IsNullOrEmpty(k)).Select(k => k!).ToArray();
            var timeline = await service.GetTimelineAsync(Id(http), after, ct).ConfigureAwait(false);
            return before is null && last is null && kinds.Length == 0 ? timeline : timeline.Page(before, kinds, last);
        });
        foreach (var approve in new[] { true, false })
        {
            Post(api, approve ? "/runs/{id}/approve" : "/runs/{id}/reject", ApiRole.Approver, async (http, caller, ct) =>
            {
                var body = await BodyAsync<DecideBody>(http, ct, allowEmpty: true).ConfigureAwait(false);
                return await service.DecideAsync(Id(http), approve, body.Step, body.Comment, caller, ct).ConfigureAwait(false);
            });
        }

        Post(api, "/runs/{id}/cancel", ApiRole.Operator, async (http, caller, ct) =>
        {
            var body = await BodyAsync<CancelBody>(http, ct, allowEmpty: true).ConfigureAwait(false);
            return await service.CancelAsync(Id(http), body.Reason, caller, ct).ConfigureAwait(false);
        });
        Post(api, "/runs/{id}/retry", ApiRole.Operator, async (http, caller, ct) =>
        {
            var body = await BodyAsync<RetryBody>(http, ct, allowEmpty: true).ConfigureAwait(false);
            var started = await service.RetryAsync(Id(http), body.FromStep, caller, ct).ConfigureAwait(false);
            http.Response.StatusCode = StatusCodes.Status201Created;
            return started;
        });
        Get(api, "/alerts", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var q = http.Request.Query;
            var limit = 50;
            if (q["limit"].ToString() is { Length: > 0 } l && !int.TryParse(l, out limit))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"limit '{l}' is not a number");
            }

            return await service.ListAlertsAsync(Text(q["outcome"]), Text(q["source"]), limit, ct).ConfigureAwait(false);
        });
        Get(api, "/guards", ApiRole.Viewer, async (http, caller, ct) => await service.ListGuardsAsync(Text(http.Request.Query["runbook"]), ct).ConfigureAwait(false));

        // Closing a breaker lets automation act on a target again: a safety decision, like an approval.
        Post(api, "/guards/reset", ApiRole.Approver, async (http, caller, ct) =>
        {
            var body = await BodyAsync<ResetBody>(http, ct).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(body.Key))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body needs 'key': a guard key as `runbook guards` lists it, and 'reason'");
            }

            return await service.ResetGuardAsync(body.Key, body.Reason ?? string.Empty, caller, ct).ConfigureAwait(false);
        });

        Get(api, "/drills", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var q = http.Request.Query;
            var limit = 50;
            if (q["limit"].ToString() is { Length: > 0 } l && !int.TryParse(l, out limit))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"limit '{l}' is not a number");
            }

            bool? passed = Text(q["passed"]) switch
            {
                null => null,
                "true" => true,
                "false" => false,
                var other => throw new RunbookServiceException(ServiceErrorKind.Invalid, $"passed '{other}' must be true or false"),
            };
            return await service.ListDrillReportsAsync(Text(q["drill"]), Text(q["runbook"]), passed, limit, ct).ConfigureAwait(false);
        });
        Get(api, "/drills/{id}", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var id = http.Request.RouteValues["id"]?.ToString();
            return long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
                ? await service.GetDrillReportAsync(n, ct).ConfigureAwait(false)
                : throw new RunbookServiceException(ServiceErrorKind.Invalid, $"'{id}' is not a drill report id (a number, as `runbook drill list` shows)");
        });

        // Running a drill is operating the engine; what it reports is kept with who ran it.
        Post(api, "/drills", ApiRole.Operator, async (http, caller, ct) =>
        {
            var body = await BodyAsync<DrillBody>(http, ct).ConfigureAwait(false);
            if (body.Report is null)
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body needs 'report': one drill's result as `runbook drill run --report json` prints it, and 'mode' (replay or live)");
            }

            var saved = await service.SaveDrillReportAsync(body.Report, body.Mode ?? "replay", caller, ct).ConfigureAwait(false);
            http.Response.StatusCode = StatusCodes.Status201Created;
            return saved;
        });

        // A live drill that marks only some steps live registers the others' answers while it runs.
        Post(api, "/drills/live/{name}", ApiRole.Operator, async (http, caller, ct) =>
        {
            var body = await BodyAsync<LiveDrillBody>(http, ct).ConfigureAwait(false);
            if (body.Script is null)
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body needs 'script': { live: [step ids that run for real], steps: {...}, actions: {...} } and 'lifetime_seconds'");
            }

            var name = http.Request.RouteValues["name"]?.ToString() ?? string.Empty;
            var lifetime = TimeSpan.FromSeconds(body.LifetimeSeconds ?? 3600);
            await service.RegisterLiveDrillAsync(name, body.Script, lifetime, caller, ct).ConfigureAwait(false);
            return new { drill = name, registered = true };
        });
        Post(api, "/drills/live/{name}/end", ApiRole.Operator, async (http, caller, ct) =>
        {
            var name = http.Request.RouteValues["name"]?.ToString() ?? string.Empty;
            await service.EndLiveDrillAsync(name, caller, ct).ConfigureAwait(false);
            return new { drill = name, ended = true };
        });

        MapLive(api, context);
        api.MapFallback((HttpContext http) => ServerErrors.WriteAsync(http, 404, "not_found", $"no API endpoint {http.Request.Method} {http.Request.Path}; see docs/api.md"));
    }

    /// <summary>The caller behind a request's bearer token, checked against the role an endpoint needs.</summary>
    /// <remarks>
    /// With <paramref name="queryToken"/>, a request without an Authorization header may carry the token as
    /// <c>?token=</c>: for senders that cannot set headers (Azure Monitor action groups).
    /// </remarks>
    public static Caller AuthorizeToken(HttpContext http, ServerContext context, ApiRole needed, bool queryToken = false)
    {
        var header = http.Request.Headers.Authorization.ToString();
        string secret;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7)
        {
            secret = header[7..].Trim();
        }
        else if (queryToken && header.Length == 0 && http.Request.Query["token"].ToString() is { Length: > 0 } fromQuery)
        {
            secret = fromQuery;
        }
        else
        {
            throw new RunbookServiceException(ServiceErrorKind.Unauthorized, "an API token is needed: send 'Authorization: Bearer <token>' (the CLI: --token or RUNBOOK_TOKEN)" + (queryToken ? " or ?token=<token>" : string.Empty));
        }

        return Admit(http, Tokens(() => context.Tokens.Find(secret)), needed);
    }

    /// <summary>
    /// The caller behind a request's bearer token or, without an Authorization header, the web console's session
    /// cookie; a change (any method but GET and HEAD) made with the cookie must also carry the session's CSRF token
    /// in <see cref="WebConsole.ConsoleSessions.CsrfHeader"/>.
    /// </summary>
    public static async Task<Caller> AuthorizeAsync(HttpContext http, ServerContext context, ApiRole needed)
    {
        if (http.Request.Headers.Authorization.Count == 0 && http.Request.Cookies[WebConsole.ConsoleSessions.CookieName] is { Length: > 0 } sessionId)
        {
            return Admit(http, await SessionTokenAsync(http, context, sessionId).ConfigureAwait(false), needed);
        }

        return AuthorizeToken(http, context, needed);
    }

    private static ApiToken? Tokens(Func<ApiToken?> find)
    {
        try
        {
            return find();
        }
        catch (FormatException ex)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unavailable, $"the server's tokens file is broken: {ex.Message}");
        }
    }

    private static Caller Admit(HttpContext http, ApiToken? token, ApiRole needed)
    {
        if (token is null)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unauthorized, "the token is not valid (unknown or revoked)");
        }

        http.Items[TokenKey] = token;

        if (!token.Allows(needed))
        {
            throw new RunbookServiceException(ServiceErrorKind.Forbidden, $"token '{token.Name}' has role {token.Role.ToString().ToLowerInvariant()}; this needs {needed.ToString().ToLowerInvariant()} or admin");
        }

        var caller = new Caller(token.Actor, token.Groups);
        http.Items[CallerKey] = caller;
        return caller;
    }

    private static void Get<T>(RouteGroupBuilder api, string pattern, ApiRole role, Func<HttpContext, Caller, CancellationToken, Task<T>> handler) =>
        api.MapGet(pattern, (HttpContext http, ServerContext context) => HandleAsync(http, context, role, handler));

    private static void Post<T>(RouteGroupBuilder api, string pattern, ApiRole role, Func<HttpContext, Caller, CancellationToken, Task<T>> handler) =>
        api.MapPost(pattern, (HttpContext http, ServerContext context) => HandleAsync(http, context, role, handler));

    /// <summary>The token of a console session, checking the CSRF token of a change; null when its token was revoked.</summary>
    private static async Task<ApiToken?> SessionTokenAsync(HttpContext http, ServerContext context, string sessionId)
    {
        var session = await context.Sessions.FindAsync(sessionId, http.RequestAborted).ConfigureAwait(false)
            ?? throw new RunbookServiceException(ServiceErrorKind.Unauthorized, "the console session has ended (signed out or expired); sign in again");
        http.Items[SessionKey] = session;
        if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method)
            && !WebConsole.ConsoleSessions.CsrfMatches(session, http.Request.Headers[WebConsole.ConsoleSessions.CsrfHeader].ToString()))
        {
            throw new RunbookServiceException(ServiceErrorKind.Forbidden, $"a change made with the console's session needs its CSRF token in {WebConsole.ConsoleSessions.CsrfHeader}");
        }

        var token = Tokens(() => context.Tokens.FindHash(session.TokenHash));
        if (token is null)
        {
            await context.Sessions.EndAsync(sessionId, http.RequestAborted).ConfigureAwait(false);
        }

        return token;
    }

    private static async Task HandleAsync<T>(HttpContext http, ServerContext context, ApiRole role, Func<HttpContext, Caller, CancellationToken, Task<T>> handler)
    {
        var caller = await AuthorizeAsync(http, context, role).ConfigureAwait(false);
        var result = await handler(http, caller, http.RequestAborted).ConfigureAwait(false);
        await http.Response.WriteAsJsonAsync(result, Json, http.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>How loaded the webhooks are: requests processed now and waiting, against the limits beyond which they get 429.</summary>
    private static object Webhooks(ServerContext context)
    {
        var stats = context.WebhookLimiter?.GetStatistics();
        var slots = context.Options.MaxConcurrentWebhooks;
        return new { in_flight = slots - (stats?.CurrentAvailablePermits ?? slots), queued = stats?.CurrentQueuedCount ?? 0, slots, queue_limit = context.Options.WebhookQueueLimit, shed = stats?.TotalFailedLeases ?? 0 };
    }

    /// <summary>A query parameter that is a time (ISO 8601, as the API writes them), or null when absent.</summary>
    private static DateTimeOffset? Time(IQueryCollection q, string name) =>
        Text(q[name]) is not { } text ? null
        : DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at
        : throw new RunbookServiceException(ServiceErrorKind.Invalid, $"{name} '{text}' is not a time; use ISO 8601 such as 2026-12-07T06:00:00Z");

    private static string Id(HttpContext http) => http.Request.RouteValues["id"]?.ToString() ?? string.Empty;

    private static string? Text(Microsoft.Extensions.Primitives.StringValues value) => value.Count == 0 || string.IsNullOrEmpty(value[0]) ? null : value[0];

    /// <summary>Reads a JSON body; a malformed or wrong-typed one is a 400 naming the problem.</summary>
    public static async Task<T> BodyAsync<T>(HttpContext http, CancellationToken ct, bool allowEmpty = false)
        where T : new()
    {
        if (allowEmpty && http.Request.ContentLength is 0 or null && !http.Request.Headers.TransferEncoding.Any())
        {
            return new T();
        }

        // Parsed as a document first: UTF-8, depth and duplicate keys are checked for the whole body, known keys or not.
        var node = ParseJson(await BytesAsync(http, ct).ConfigureAwait(false), " for this request");
        try
        {
            return node.Deserialize<T>(Json)
                ?? throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body is JSON null; an object is expected");
        }
        catch (JsonException ex)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"the body is not valid JSON for this request: {OneLine(ex.Message)}");
        }
    }

    /// <summary>Reads any JSON body (webhooks); malformed JSON is a 400 naming the problem.</summary>
    public static async Task<System.Text.Json.Nodes.JsonNode?> JsonAsync(HttpContext http, CancellationToken ct) =>
        ParseJson(await BytesAsync(http, ct).ConfigureAwait(false));

    /// <summary>Reads a JSON body's raw bytes (the server's body size limit applies), e.g. to check a signature over them.</summary>
    public static async Task<byte[]> BytesAsync(HttpContext http, CancellationToken ct)
    {
        RequireJson(http);
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return buffer.ToArray();
    }

    /// <summary>Parses a JSON body; malformed JSON is a 400 naming the problem.</summary>
    /// <param name="body">The body's bytes.</param>
    /// <param name="forWhat">Words after "not valid JSON" in the reason.</param>
    /// <returns>The JSON.</returns>
    public static System.Text.Json.Nodes.JsonNode? ParseJson(byte[] body, string forWhat = "")
    {
        RequireUtf8(body);
        try
        {
            // Materialized at once, so a duplicate key is found here rather than by the first reader of the node.
            var node = System.Text.Json.Nodes.JsonNode.Parse(body, documentOptions: Document);
            _ = node?.ToJsonString();
            return node;
        }
        catch (JsonException ex)
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"the body is not valid JSON{forWhat}: {OneLine(ex.Message)}");
        }
        catch (ArgumentException ex)
        {
            // A JsonObject refusing a key it already has.
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"the body is not valid JSON{forWhat}: {OneLine(ex.Message)}");
        }
    }

    /// <summary>JSON is UTF-8: a body that is not is refused before it is parsed, with where it stops being.</summary>
    private static void RequireUtf8(byte[] body)
    {
        if (System.Text.Unicode.Utf8.IsValid(body))
        {
            return;
        }

        var valid = 0;
        while (valid < body.Length && System.Text.Rune.DecodeFromUtf8(body.AsSpan(valid), out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            valid += consumed;
        }

        throw new RunbookServiceException(ServiceErrorKind.Invalid, $"the body is not valid UTF-8 (from byte {valid}); JSON must be UTF-8");
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");

    private static void RequireJson(HttpContext http)
    {
        if (http.Request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"the body must be JSON (Content-Type: application/json), not {type}");
        }
    }

    private sealed class StartBody
    {
        [JsonPropertyName("runbook")]
        public string? Runbook { get; set; }

        [JsonPropertyName("inputs")]
        public System.Text.Json.Nodes.JsonObject? Inputs { get; set; }

        [JsonPropertyName("dry_run")]
        public bool DryRun { get; set; }

        [JsonPropertyName("idempotency_key")]
        public string? IdempotencyKey { get; set; }

        [JsonPropertyName("drill")]
        public string? Drill { get; set; }
    }

    private sealed class ValidateBody
    {
        [JsonPropertyName("sources")]
        public List<RunbookSource>? Sources { get; set; }
    }

    private sealed class DecideBody
    {
        [JsonPropertyName("step")]
        public string? Step { get; set; }

        [JsonPropertyName("comment")]
        public string? Comment { get; set; }
    }

    private sealed class CancelBody
    {
        [JsonPropertyName("reason")]
        public string? Reason { get; set; }
    }

    private sealed class ResetBody
    {
        [JsonPropertyName("key")]
        public string? Key { get; set; }

        [JsonPropertyName("reason")]
        public string? Reason { get; set; }
    }

    private sealed class DrillBody
    {
        [JsonPropertyName("mode")]
        public string? Mode { get; set; }

        [JsonPropertyName("report")]
        public System.Text.Json.Nodes.JsonObject? Report { get; set; }
    }

    private sealed class LiveDrillBody
    {
        [JsonPropertyName("script")]
        public System.Text.Json.Nodes.JsonObject? Script { get; set; }

        [JsonPropertyName("lifetime_seconds")]
        public double? LifetimeSeconds { get; set; }
    }

    private sealed class RetryBody
    {
        [JsonPropertyName("from_step")]
        public string? FromStep { get; set; }
    }
}
