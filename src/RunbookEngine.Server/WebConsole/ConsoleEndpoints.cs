using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Server.WebConsole;

/// <summary>
/// The web console: its pages at <c>/</c> (one page; the browser routes), its assets under <c>/console/</c>
/// (embedded in this assembly: nothing from a CDN, no build step), and the sign-in under <c>/api/session</c>.
/// </summary>
internal static class ConsoleEndpoints
{
    /// <summary>The paths the page itself routes: each is answered with the page.</summary>
    public static readonly string[] Pages = ["/", "/signin", "/runs", "/runs/{id}", "/approvals", "/alerts", "/runbooks", "/guards", "/drills", "/drills/{id}"];

    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly FrozenDictionary<string, Asset> Assets = LoadAssets();

    public static void Map(WebApplication app, ServerContext context)
    {
        // Without the console there are no pages and no cookie sessions: API tokens in headers only.
        if (!context.Options.Console)
        {
            return;
        }

        app.MapPost("/api/session", (HttpContext http) => SignInAsync(http, context));
        app.MapGet("/api/session", async (HttpContext http) =>
        {
            await ApiEndpoints.AuthorizeAsync(http, context, ApiRole.Viewer).ConfigureAwait(false);
            await http.Response.WriteAsJsonAsync(Who((ApiToken)http.Items[ApiEndpoints.TokenKey]!, http.Items[ApiEndpoints.SessionKey] as ConsoleSessions.Session), ApiEndpoints.Json).ConfigureAwait(false);
        });
        app.MapPost("/api/session/end", async (HttpContext http) =>
        {
            await ApiEndpoints.AuthorizeAsync(http, context, ApiRole.Viewer).ConfigureAwait(false);
            if (http.Items[ApiEndpoints.SessionKey] is ConsoleSessions.Session && http.Request.Cookies[ConsoleSessions.CookieName] is { Length: > 0 } id)
            {
                await context.Sessions.EndAsync(id, http.RequestAborted).ConfigureAwait(false);
            }

            http.Response.Cookies.Delete(ConsoleSessions.CookieName, Cookie(http));
            await http.Response.WriteAsJsonAsync(new { signed_out = true }, ApiEndpoints.Json).ConfigureAwait(false);
        });

        foreach (var page in Pages)
        {
            app.MapGet(page, (HttpContext http) => WriteAsync(http, Assets["index.html"]));
        }

        app.MapGet("/console/{file}", (HttpContext http, string file) =>
            Assets.TryGetValue(file, out var asset) && file != "index.html"
                ? WriteAsync(http, asset)
                : ServerErrors.WriteAsync(http, 404, "not_found", $"no console file '{file}'"));
    }

    private static async Task SignInAsync(HttpContext http, ServerContext context)
    {
        // Only JSON: a cross-site form cannot send it without the browser asking this server first (CORS, refused).
        if (http.Request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "sign in with a JSON body {\"token\": \"rbk_...\"} (Content-Type: application/json)");
        }

        var body = await ApiEndpoints.BodyAsync<SignInBody>(http, http.RequestAborted).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(body.Token))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, "the body needs 'token': an API token (`runbook token create` makes one)");
        }

        ApiToken? token;
        try
        {
            token = context.Tokens.Find(body.Token.Trim());
        }
        catch (FormatException ex)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unavailable, $"the server's tokens file is broken: {ex.Message}");
        }

        if (token is null)
        {
            throw new RunbookServiceException(ServiceErrorKind.Unauthorized, "the token is not valid (unknown or revoked)");
        }

        var (cookie, session) = await context.Sessions.OpenAsync(token.Sha256, http.RequestAborted).ConfigureAwait(false);
        http.Response.Cookies.Append(ConsoleSessions.CookieName, cookie, Cookie(http));
        http.Response.StatusCode = StatusCodes.Status201Created;
        await http.Response.WriteAsJsonAsync(Who(token, session), ApiEndpoints.Json).ConfigureAwait(false);
    }

    /// <summary>The session cookie: not readable by scripts, never sent cross-site, only over TLS when the server has it.</summary>
    private static CookieOptions Cookie(HttpContext http) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = http.Request.IsHttps,
        Path = "/",
        IsEssential = true,
    };

    private static object Who(ApiToken token, ConsoleSessions.Session? session) => new Dictionary<string, object?>
    {
        ["name"] = token.Name,
        ["actor"] = token.Actor,
        ["role"] = token.Role.ToString().ToLowerInvariant(),
        ["groups"] = token.Groups,
        ["csrf"] = session?.Csrf,
        ["expires_at"] = session?.Expires,
    };

    private static Task WriteAsync(HttpContext http, Asset asset)
    {
        var headers = http.Response.Headers;
        headers.ContentType = asset.ContentType;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = Policy;
        if (http.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        headers.ContentLength = asset.Bytes.Length;
        return HttpMethods.IsHead(http.Request.Method) ? Task.CompletedTask : http.Response.Body.WriteAsync(asset.Bytes, http.RequestAborted).AsTask();
    }

    private static FrozenDictionary<string, Asset> LoadAssets()
    {
        const string prefix = "RunbookEngine.Server.WebConsole.wwwroot.";
        var assembly = typeof(ConsoleEndpoints).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            var file = name[prefix.Length..];
            var type = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[file] = new Asset(bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    private sealed class SignInBody
    {
        [JsonPropertyName("token")]
        public string? Token { get; set; }
    }
}
