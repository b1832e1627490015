using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RunbookEngine.Workflows;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>Where and how to reach one cluster: read from a kubeconfig or from a pod's service account.</summary>
/// <param name="Server">The API server's base URL.</param>
/// <param name="Namespace">The namespace used when a step names none.</param>
/// <param name="Source">Where these credentials came from (for messages; never a secret).</param>
/// <param name="Token">Reads the bearer token (again on every request: service-account tokens rotate), or null.</param>
/// <param name="Basic">A user name and password, or null.</param>
/// <param name="ClientCertificate">A client certificate with its key, or null.</param>
/// <param name="Authorities">The CAs the server's certificate must chain to, or null for the system's.</param>
/// <param name="Insecure">Whether the server's certificate is not checked at all (insecure-skip-tls-verify).</param>
internal sealed record KubeCluster(
    Uri Server,
    string Namespace,
    string Source,
    Func<string?> Token,
    (string User, string Password)? Basic,
    X509Certificate2? ClientCertificate,
    X509Certificate2Collection? Authorities,
    bool Insecure);

/// <summary>
/// Finds credentials the way kubectl does: the step's <c>kubeconfig</c>, else <c>KUBECONFIG</c> (a list of files,
/// merged: the first file that sets a name wins), else <c>~/.kube/config</c>, else the pod's service account
/// (<c>KUBERNETES_SERVICE_HOST</c> and <c>/var/run/secrets/kubernetes.io/serviceaccount</c>).
/// </summary>
internal sealed class KubeCredentials(Func<string, string?> environment, string serviceAccountDirectory, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider time = timeProvider ?? TimeProvider.System;

    // One exec credential per kubeconfig user: its token is reused by every step until shortly before it expires.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, KubeExecCredential> execs = new(StringComparer.Ordinal);

    /// <summary>Where a pod's service-account token, CA and namespace are mounted.</summary>
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>Gets the credentials a worker process has.</summary>
    public static KubeCredentials System { get; } = new(Environment.GetEnvironmentVariable, ServiceAccountDirectory);

    /// <summary>Loads the credentials for a step.</summary>
    /// <param name="kubeconfig">The step's <c>kubeconfig</c> path, or null.</param>
    /// <param name="context">The step's <c>context</c>, or null for the current one.</param>
    /// <param name="inCluster">Whether the step asks for the pod's service account explicitly.</param>
    /// <returns>The cluster.</returns>
    public KubeCluster Load(string? kubeconfig, string? context, bool inCluster)
    {
        if (inCluster)
        {
            return InCluster() ?? throw Config($"in_cluster: true, but this worker is not in a pod: KUBERNETES_SERVICE_HOST is not set");
        }

        var files = kubeconfig is not null
            ? [kubeconfig]
            : environment("KUBECONFIG") is { Length: > 0 } list
                ? list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
                : environment("HOME") is { Length: > 0 } home && File.Exists(Path.Combine(home, ".kube", "config")) ? [Path.Combine(home, ".kube", "config")] : [];

        if (files.Count == 0)
        {
            return InCluster() ?? throw Config("no credentials: set 'kubeconfig' on the step or KUBECONFIG for the worker, or run the worker in a pod with a service account");
        }

        return FromKubeconfig(files, context);
    }

    private static StepException Config(string message) => new("KubernetesConfig", "kubernetes: " + message, nonRetryable: true);

    private static byte[] Base64(string value, string what, string file)
    {
        try
        {
            return Convert.FromBase64String(value);
        }
        catch (FormatException)
        {
            throw Config($"{file}: {what} is not base64");
        }
    }

    private static string? Scalar(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s && !string.IsNullOrEmpty(s.Value) ? s.Value : null;

    private static YamlMappingNode? Mapping(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v as YamlMappingNode : null;

    private static X509Certificate2Collection Authorities(byte[] pem, string file)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(Encoding.ASCII.GetString(pem));
        }
        catch (CryptographicException ex)
        {
            throw Config($"{file}: the certificate authority is not a PEM certificate: {ex.Message}");
        }

        return collection.Count > 0 ? collection : throw Config($"{file}: the certificate authority holds no PEM certificate");
    }

    private KubeCluster? InCluster()
    {
        var host = environment("KUBERNETES_SERVICE_HOST");
        if (string.IsNullOrEmpty(host))
        {
            return null;
        }

        var port = environment("KUBERNETES_SERVICE_PORT") is { Length: > 0 } p ? p : "443";
        var tokenFile = Path.Combine(serviceAccountDirectory, "token");
        var caFile = Path.Combine(serviceAccountDirectory, "ca.crt");
        if (!File.Exists(tokenFile))
        {
            throw Config($"KUBERNETES_SERVICE_HOST is set but there is no service-account token at {tokenFile} (automountServiceAccountToken: false?)");
        }

        var ns = File.Exists(Path.Combine(serviceAccountDirectory, "namespace")) ? File.ReadAllText(Path.Combine(serviceAccountDirectory, "namespace")).Trim() : "default";
        var server = new UriBuilder("https", host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, int.Parse(port, global::System.Globalization.CultureInfo.InvariantCulture)).Uri;
        return new KubeCluster(
            server,
            ns,
            "the pod's service account",
            () => File.ReadAllText(tokenFile).Trim(),
            null,
            null,
            File.Exists(caFile) ? Authorities(File.ReadAllBytes(caFile), caFile) : null,
            false);
    }

    private KubeCluster FromKubeconfig(List<string> files, string? context)
    {
        var clusters = new Dictionary<string, (YamlMappingNode Node, string File)>(StringComparer.Ordinal);
        var users = new Dictionary<string, (YamlMappingNode Node, string File)>(StringComparer.Ordinal);
        var contexts = new Dictionary<string, YamlMappingNode>(StringComparer.Ordinal);
        string? current = null;
        foreach (var file in files)
        {
            if (!File.Exists(file))
            {
                if (files.Count == 1)
                {
                    throw Config($"kubeconfig {file} does not exist");
                }

                continue;
            }

            YamlMappingNode root;
            try
            {
                var stream = new YamlStream();
                using (var reader = new StreamReader(file))
                {
                    stream.Load(reader);
                }

                root = stream.Documents.Count > 0 ? stream.Documents[0].RootNode as YamlMappingNode ?? throw Config($"{file} is not a kubeconfig (a mapping with clusters, users, contexts)") : [];
            }
            catch (YamlException ex)
            {
                throw Config($"{file}:{ex.Start.Line}:{ex.Start.Column}: {ex.InnerException?.Message ?? ex.Message}");
            }
            catch (IOException ex)
            {
                throw Config($"cannot read kubeconfig {file}: {ex.Message}");
            }
            catch (UnauthorizedAccessException ex)
            {
                throw Config($"cannot read kubeconfig {file}: {ex.Message}");
            }

            current ??= Scalar(root, "current-context");
            Collect(root, "clusters", "cluster", file, (name, node) => clusters.TryAdd(name, (node, file)));
            Collect(root, "users", "user", file, (name, node) => users.TryAdd(name, (node, file)));
            Collect(root, "contexts", "context", file, (name, node) => contexts.TryAdd(name, node));
        }

        var source = string.Join(Path.PathSeparator, files);
        var name = context ?? current ?? throw Config($"{source} sets no current-context: name one with 'context' on the step");
        if (!contexts.TryGetValue(name, out var ctx))
        {
            throw Config($"{source} has no context '{name}'" + (contexts.Count > 0 ? $"; it has: {string.Join(", ", contexts.Keys.Order(StringComparer.Ordinal))}" : string.Empty));
        }

        var clusterName = Scalar(ctx, "cluster") ?? throw Config($"context '{name}' in {source} names no cluster");
        if (!clusters.TryGetValue(clusterName, out var cluster))
        {
            throw Config($"context '{name}' names cluster '{clusterName}', which {source} does not define");
        }

        var server = Scalar(cluster.Node, "server");
        if (server is null || !Uri.TryCreate(server, UriKind.Absolute, out var serverUri) || serverUri.Scheme is not ("http" or "https"))
        {
            throw Config($"cluster '{clusterName}' in {cluster.File} has no http(s) 'server'");
        }

        X509Certificate2Collection? authorities = null;
        if (Scalar(cluster.Node, "certificate-authority-data") is { } caData)
        {
            authorities = Authorities(Base64(caData, $"cluster '{clusterName}' certificate-authority-data", cluster.File), cluster.File);
        }
        else if (Scalar(cluster.Node, "certificate-authority") is { } caPath)
        {
            var path = Relative(caPath, cluster.File);
            authorities = Authorities(ReadBytes(path, $"cluster '{clusterName}' certificate-authority"), path);
        }

        Func<string?> token = () => null;
        (string, string)? basic = null;
        X509Certificate2? clientCertificate = null;
        var userName = Scalar(ctx, "user");
        if (userName is not null)
        {
            if (!users.TryGetValue(userName, out var user))
            {
                throw Config($"context '{name}' names user '{userName}', which {source} does not define");
            }

            if (Mapping(user.Node, "auth-provider") is not null)
            {
                throw Config($"user '{userName}' in {user.File} gets its credentials from an auth-provider plugin (removed from kubectl in 1.26): use its exec credential plugin instead (e.g. kubelogin, gke-gcloud-auth-plugin), a token or a client certificate");
            }

            if (Mapping(user.Node, "exec") is { } exec)
            {
                var credential = KubeExecCredential.Parse(exec, userName, user.File, time);
                token = execs.GetOrAdd($"{Path.GetFullPath(user.File)}\n{userName}\n{credential.Identity}", credential).Token;
            }
            else if (Scalar(user.Node, "token") is { } literal)
            {
                token = () => literal;
            }
            else if (Scalar(user.Node, "tokenFile") is { } tokenFile)
            {
                var path = Relative(tokenFile, user.File);
                token = () => Encoding.UTF8.GetString(ReadBytes(path, $"user '{userName}' tokenFile")).Trim();
            }

            if (Scalar(user.Node, "username") is { } u && Scalar(user.Node, "password") is { } pw)
            {
                basic = (u, pw);
            }

            var certPem = Scalar(user.Node, "client-certificate-data") is { } cd ? Base64(cd, $"user '{userName}' client-certificate-data", user.File)
                : Scalar(user.Node, "client-certificate") is { } cp ? ReadBytes(Relative(cp, user.File), $"user '{userName}' client-certificate") : null;
            var keyPem = Scalar(user.Node, "client-key-data") is { } kd ? Base64(kd, $"user '{userName}' client-key-data", user.File)
                : Scalar(user.Node, "client-key") is { } kp ? ReadBytes(Relative(kp, user.File), $"user '{userName}' client-key") : null;
            if (certPem is not null || keyPem is not null)
            {
                if (certPem is null || keyPem is null)
                {
                    throw Config($"user '{userName}' in {user.File} has a client certificate or a client key but not both");
                }

                try
                {
                    using var ephemeral = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(certPem), Encoding.ASCII.GetString(keyPem));
                    clientCertificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
                }
                catch (CryptographicException ex)
                {
                    throw Config($"user '{userName}' in {user.File}: the client certificate and key cannot be loaded: {ex.Message}");
                }
            }
        }

        var insecure = string.Equals(Scalar(cluster.Node, "insecure-skip-tls-verify"), "true", StringComparison.OrdinalIgnoreCase);
        return new KubeCluster(serverUri, Scalar(ctx, "namespace") ?? "default", $"context '{name}' of {source}", token, basic, clientCertificate, authorities, insecure);
    }

    private static void Collect(YamlMappingNode root, string listKey, string itemKey, string file, Action<string, YamlMappingNode> add)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode(listKey), out var node) || node is not YamlSequenceNode list)
        {
            return;
        }

        foreach (var item in list.Children.OfType<YamlMappingNode>())
        {
            if (Scalar(item, "name") is { } name)
            {
                add(name, Mapping(item, itemKey) ?? throw Config($"{file}:{item.Start.Line}:{item.Start.Column}: {listKey} entry '{name}' has no '{itemKey}' mapping"));
            }
        }
    }

    private static string Relative(string path, string kubeconfig) =>
        Path.IsPathRooted(path) ? path : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(kubeconfig)) ?? ".", path);

    private static byte[] ReadBytes(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Config($"cannot read {what} {path}: {ex.Message}");
        }
    }
}
