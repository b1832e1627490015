using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>
/// The <c>kubernetes</c> action's calls, on the official client (<see cref="k8s.Kubernetes"/>): its HTTP pipeline
/// (client certificate, TLS server name, <c>insecure-skip-tls-verify</c>) and its credentials (tokens, rotating token
/// files, exec plugins, basic) carry every request, and watches are its typed watches. Reads and writes stay JSON
/// (the action works on any of its kinds by path), with API errors (<c>Status</c> objects) turned into step failures
/// that say whether a retry can help. Transient failures are tried again within the attempt (<see cref="Transient"/>):
/// reads on 429 and 5xx, any request whose connection failed. One client per cluster identity is kept, so connections
/// are reused across steps.
/// </summary>
/// <remarks>
/// A cluster with its own CA is checked here, not by the official client: its check accepts a certificate that chains
/// to the CA but was issued for another name (it ignores the name whenever the chain needed the custom CA). This one
/// demands the name and the chain.
/// </remarks>
internal sealed class KubeClient(KubeCluster cluster, TimeProvider time)
{
    /// <summary>The content type of a JSON merge patch (RFC 7386), which every resource accepts.</summary>
    public const string MergePatch = "application/merge-patch+json";

    private const int MaxBody = 8 << 20;

    private static readonly ConcurrentDictionary<string, Lazy<k8s.Kubernetes>> Clients = new(StringComparer.Ordinal);

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

    /// <summary>
    /// Watches one object through the official client's typed watch of its kind; ends when the server ends the watch
    /// (its timeout), reports an error event (e.g. 410 Gone: the version is too old), cannot be reached or throttles
    /// (the caller reads again and re-watches), or on cancellation.
    /// </summary>
    /// <param name="kind">The kind.</param>
    /// <param name="ns">The namespace (ignored for cluster-scoped kinds).</param>
    /// <param name="name">The object's name.</param>
    /// <param name="resourceVersion">The version to watch from, or null.</param>
    /// <param name="timeoutSeconds">How long the server keeps the watch open.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The events: type (ADDED, MODIFIED, DELETED, BOOKMARK) and object.</returns>
    public async IAsyncEnumerable<(string Type, JsonObject Object)> WatchAsync(KubeKind kind, string ns, string name, string? resourceVersion, int timeoutSeconds, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var ended = false;
        void OnError(Exception _) => ended = true; // a Status event or a line that is not an event: read again
        var events = WatchKindAsync(Api(), kind, ns, "metadata.name=" + name, resourceVersion, timeoutSeconds, OnError, cancellationToken);
        var path = kind.Path(ns, null) + "?watch=true";
        var enumerator = events.GetAsyncEnumerator(cancellationToken);
        await using var _ = enumerator.ConfigureAwait(false);
        while (!ended)
        {
            try
            {
                if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }
            }
            catch (k8s.Autorest.HttpOperationException ex) when (ex.Response is { } response)
            {
                var status = (int)response.StatusCode;
                if (status is 429 or >= 500)
                {
                    yield break; // the caller's read is retried as any read is
                }

                Check(HttpMethod.Get, path, status, response.Content ?? string.Empty);
                yield break;
            }
            catch (HttpRequestException)
            {
                yield break; // refused, reset or ended by a proxy: the caller's read says whether the server is gone
            }
            catch (IOException)
            {
                yield break;
            }

            if (!ended)
            {
                var (type, obj) = enumerator.Current;
                yield return (type.ToString().ToUpperInvariant(), obj);
            }
        }
    }

    private StepException Unreachable(HttpRequestException ex) =>
        new("KubernetesUnreachable", $"{cluster.Server.GetLeftPart(UriPartial.Authority)} ({cluster.Source}): {ex.Message}" + (ex.InnerException is { } inner && inner.Message != ex.Message ? $" ({inner.Message})" : string.Empty));

    /// <summary>The official client's typed watch for one kind, its objects as JSON.</summary>
    private static IAsyncEnumerable<(k8s.WatchEventType, JsonObject)> WatchKindAsync(k8s.Kubernetes api, KubeKind kind, string ns, string field, string? version, int timeout, Action<Exception> onError, CancellationToken cancellationToken) => kind.Name switch
    {
        "pod" => JsonAsync(api.CoreV1.WatchListNamespacedPodAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "node" => JsonAsync(api.CoreV1.WatchListNodeAsync(fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "namespace" => JsonAsync(api.CoreV1.WatchListNamespaceAsync(fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "service" => JsonAsync(api.CoreV1.WatchListNamespacedServiceAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "configmap" => JsonAsync(api.CoreV1.WatchListNamespacedConfigMapAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "persistentvolumeclaim" => JsonAsync(api.CoreV1.WatchListNamespacedPersistentVolumeClaimAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "deployment" => JsonAsync(api.AppsV1.WatchListNamespacedDeploymentAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "statefulset" => JsonAsync(api.AppsV1.WatchListNamespacedStatefulSetAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "daemonset" => JsonAsync(api.AppsV1.WatchListNamespacedDaemonSetAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "replicaset" => JsonAsync(api.AppsV1.WatchListNamespacedReplicaSetAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "job" => JsonAsync(api.BatchV1.WatchListNamespacedJobAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        "cronjob" => JsonAsync(api.BatchV1.WatchListNamespacedCronJobAsync(ns, fieldSelector: field, resourceVersion: version, timeoutSeconds: timeout, onError: onError, cancellationToken: cancellationToken)),
        _ => throw new StepException("InvalidInput", $"kubernetes: cannot watch kind '{kind.Name}'", nonRetryable: true),
    };

    private static async IAsyncEnumerable<(k8s.WatchEventType, JsonObject)> JsonAsync<T>(IAsyncEnumerable<(k8s.WatchEventType, T)> events)
    {
        await foreach (var (type, obj) in events.ConfigureAwait(false))
        {
            if (JsonNode.Parse(k8s.KubernetesJson.Serialize(obj)) is JsonObject json)
            {
                yield return (type, json);
            }
        }
    }

    private static k8s.Kubernetes Create(KubeCluster cluster)
    {
        var config = cluster.Config;
        config.HttpClientTimeout = Timeout.InfiniteTimeSpan; // watches stay open; every call has its own deadline
        config.UserAgent = "runbookengine/1.0";
        var authorities = cluster.Authorities;
        config.FirstMessageHandlerSetup = handler =>
        {
            handler.PooledConnectionLifetime = TimeSpan.FromMinutes(5);
            handler.AllowAutoRedirect = false;
            if (authorities is not null && !config.SkipTlsVerify)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    // The name must match whatever the trust anchor; only the chain is judged against the kubeconfig's CA.
                    if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    return chain.Build(leaf);
                };
            }
        };

        try
        {
            return new k8s.Kubernetes(config);
        }
        catch (Exception ex) when (ex is k8s.Exceptions.KubeConfigException or global::System.Security.Cryptography.CryptographicException)
        {
            throw new StepException("KubernetesConfig", $"kubernetes: {cluster.Source}: {ex.Message}", nonRetryable: true);
        }
    }

    private k8s.Kubernetes Api()
    {
        var lazy = Clients.GetOrAdd(cluster.Key, _ => new Lazy<k8s.Kubernetes>(() => Create(cluster)));
        try
        {
            return lazy.Value;
        }
        catch (StepException)
        {
            Clients.TryRemove(new KeyValuePair<string, Lazy<k8s.Kubernetes>>(cluster.Key, lazy));
            throw;
        }
    }

    private async Task<AuthenticationHeaderValue?> AuthorizationAsync(k8s.Kubernetes api, CancellationToken cancellationToken)
    {
        if (api.Credentials is null)
        {
            return null;
        }

        using var probe = new HttpRequestMessage(HttpMethod.Get, api.BaseUri);
        try
        {
            await api.Credentials.ProcessHttpRequestAsync(probe, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A token file (service account, tokenFile) that went away: a remount may bring it back.
            throw new StepException("KubernetesCredentials", $"kubernetes: cannot read the token of {cluster.Source}: {ex.Message}");
        }

        return probe.Headers.Authorization;
    }

    private static HttpRequestMessage Request(k8s.Kubernetes api, HttpMethod method, string path, string? body, string? contentType, AuthenticationHeaderValue? authorization, string? tlsServerName)
    {
        // The server's URL may carry a path (a proxy such as Rancher's /k8s/clusters/ID): the API path goes below it.
        var message = new HttpRequestMessage(method, new Uri(api.BaseUri.AbsoluteUri.TrimEnd('/') + path));
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        message.Headers.UserAgent.Add(new ProductInfoHeaderValue("runbookengine", "1.0"));
        message.Headers.Authorization = authorization;
        if (tlsServerName is not null)
        {
            message.Headers.Host = tlsServerName; // as the official client does: the TLS name is the request's host
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
            var api = Api();
            var authorization = await AuthorizationAsync(api, cancellationToken).ConfigureAwait(false);
            using var response = await Transient.SendAsync(api.HttpClient, () => Request(api, method, path, body, contentType, authorization, cluster.Config.TlsServerName), isRead: method == HttpMethod.Get, time, cancellationToken).ConfigureAwait(false);
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
