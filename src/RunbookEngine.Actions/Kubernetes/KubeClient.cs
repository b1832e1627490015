using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>
/// A small typed client for the Kubernetes REST API: JSON in and out, API errors (<c>Status</c> objects) turned
/// into step failures that say whether a retry can help, and watches read line by line. Transient failures are
/// tried again within the attempt (<see cref="Transient"/>): reads on 429 and 5xx, any request whose connection failed.
/// </summary>
internal sealed class KubeClient(KubeCluster cluster, TimeProvider time)
{
    /// <summary>The content type of a JSON merge patch (RFC 7386), which every resource accepts.</summary>
    public const string MergePatch = "application/merge-patch+json";

    private const int MaxBody = 8 << 20;

    private static readonly ConcurrentDictionary<string, HttpClient> Clients = new(StringComparer.Ordinal);

    /// <summary>Gets the cluster.</summary>
    public KubeCluster Cluster => cluster;

    /// <summary>Reads an object.</summary>
    /// <param name="path">The API path.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The object, or null when it does not exist.</returns>
    public async Task<JsonObject?> TryGetAsync(string path, CancellationToken cancellationToken)
    {
        var (status, body) = await SendRawAsync(HttpMethod.Get, path, null, null, cancellationToken).ConfigureAwait(false);
        return status == 404 ? null : Check(HttpMethod.Get, path, status, body);
    }

    /// <summary>Reads an object that must exist.</summary>
    /// <param name="path">The API path.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The object.</returns>
    public async Task<JsonObject> GetAsync(string path, CancellationToken cancellationToken)
    {
        var (status, body) = await SendRawAsync(HttpMethod.Get, path, null, null, cancellationToken).ConfigureAwait(false);
        return Check(HttpMethod.Get, path, status, body);
    }

    /// <summary>Sends a change.</summary>
    /// <param name="method">PATCH, POST or DELETE.</param>
    /// <param name="path">The API path.</param>
    /// <param name="body">The body.</param>
    /// <param name="contentType">Its content type.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The status and the parsed answer.</returns>
    public async Task<(int Status, JsonObject Body)> SendAsync(HttpMethod method, string path, JsonNode? body, string contentType, CancellationToken cancellationToken)
    {
        var (status, text) = await SendRawAsync(method, path, body?.ToJsonString(), contentType, cancellationToken).ConfigureAwait(false);
        return (status, status is >= 200 and < 300 or 404 or 429 ? With.TryParseJson(text) as JsonObject ?? [] : Check(method, path, status, text));
    }

    /// <summary>Turns an answer that is not a success into the step failure it means.</summary>
    /// <param name="method">The method.</param>
    /// <param name="path">The path.</param>
    /// <param name="status">The status code.</param>
    /// <param name="text">The body.</param>
    /// <returns>The parsed body of a success.</returns>
    public JsonObject Check(HttpMethod method, string path, int status, string text)
    {
        var body = With.TryParseJson(text) as JsonObject;
        if (status is >= 200 and < 300)
        {
            return body ?? throw new StepException("KubernetesError", $"{method} {path} answered {status} with something that is not JSON");
        }

        var message = body?["message"] is JsonValue m && m.TryGetValue<string>(out var s) ? s : text.Length > 200 ? text[..200] + "..." : text;
        var what = $"{method} {cluster.Server.GetLeftPart(UriPartial.Authority)}{path}: {status}";
        throw status switch
        {
            401 => new StepException("KubernetesUnauthorized", $"{what}: the API server refused the credentials from {cluster.Source}: {message}", nonRetryable: true),
            403 => new StepException("KubernetesForbidden", $"{what}: not allowed (RBAC): {message}", nonRetryable: true),
            404 => new StepException("KubernetesNotFound", $"{what}: {message}", nonRetryable: true),
            409 => new StepException("KubernetesConflict", $"{what}: {message}"),
            422 or 400 => new StepException("KubernetesInvalid", $"{what}: {message}", nonRetryable: true),
            429 or >= 500 => new StepException("KubernetesUnavailable", $"{what}: {message}"),
            _ => new StepException("KubernetesError", $"{what}: {message}", nonRetryable: true),
        };
    }

    /// <summary>Watches a collection; ends when the server ends the watch (its timeout) or cancellation.</summary>
    /// <param name="path">The collection path with its query (fieldSelector, resourceVersion, timeoutSeconds); <c>watch=true</c> is added.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The events: type (ADDED, MODIFIED, DELETED, ERROR, BOOKMARK) and object.</returns>
    public async IAsyncEnumerable<(string Type, JsonObject Object)> WatchAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        path += (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "watch=true";
        HttpResponseMessage response;
        try
        {
            response = await Transient.SendAsync(Client(), () => Request(HttpMethod.Get, path, null, null), isRead: true, time, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                Check(HttpMethod.Get, path, (int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            }

            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                using var reader = new StreamReader(stream, Encoding.UTF8);
                while (true)
                {
                    string? line;
                    try
                    {
                        line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or HttpRequestException)
                    {
                        yield break; // the server or a proxy ended the watch: the caller reads again and re-watches
                    }

                    if (line is null)
                    {
                        yield break;
                    }

                    if (With.TryParseJson(line) is JsonObject e && e["type"] is JsonValue t && t.TryGetValue<string>(out var type) && e["object"] is JsonObject o)
                    {
                        yield return (type, o);
                    }
                }
            }
        }
    }

    private static string Key(KubeCluster c) => string.Join(
        '|',
        c.Server.GetLeftPart(UriPartial.Authority),
        c.Insecure,
        c.ClientCertificate?.Thumbprint,
        c.Authorities is null ? string.Empty : string.Join(',', c.Authorities.Select(a => a.Thumbprint)));

    private StepException Unreachable(HttpRequestException ex) =>
        new("KubernetesUnreachable", $"{cluster.Server.GetLeftPart(UriPartial.Authority)} ({cluster.Source}): {ex.Message}" + (ex.InnerException is { } inner && inner.Message != ex.Message ? $" ({inner.Message})" : string.Empty));

    private HttpClient Client() => Clients.GetOrAdd(Key(cluster), _ =>
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false };
        if (cluster.ClientCertificate is { } cert)
        {
            handler.SslOptions.ClientCertificates = [cert];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => cert;
        }

        var authorities = cluster.Authorities;
        var insecure = cluster.Insecure;
        if (insecure || authorities is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (insecure)
                {
                    return true;
                }

                // The name must match whatever the trust anchor; only the chain is judged against the kubeconfig's CA.
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities!);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                return chain.Build(leaf);
            };
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    });

    private HttpRequestMessage Request(HttpMethod method, string path, string? body, string? contentType)
    {
        var message = new HttpRequestMessage(method, new Uri(cluster.Server, path));
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        message.Headers.UserAgent.Add(new ProductInfoHeaderValue("runbookengine", "1.0"));
        if (cluster.Token() is { Length: > 0 } token)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (cluster.Basic is var (user, password))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        }

        if (body is not null)
        {
            message.Content = new StringContent(body, Encoding.UTF8);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType ?? "application/json");
        }

        return message;
    }

    private async Task<(int Status, string Body)> SendRawAsync(HttpMethod method, string path, string? body, string? contentType, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Transient.SendAsync(Client(), () => Request(method, path, body, contentType), isRead: method == HttpMethod.Get, time, cancellationToken).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength > MaxBody)
            {
                throw new StepException("KubernetesError", $"{method} {path}: the answer is larger than {MaxBody >> 20} MiB", nonRetryable: true);
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return ((int)response.StatusCode, text);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex);
        }
    }
}
