using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Authentication;
using k8s.KubeConfigModels;
using RunbookEngine.Workflows;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>Where and how to reach one cluster: the official client's configuration, read from a kubeconfig or a pod's service account.</summary>
/// <param name="Config">
/// The configuration the official client is built from: host, TLS server name, <c>insecure-skip-tls-verify</c>, client
/// certificate, token, token provider or basic credentials. Its <see cref="KubernetesClientConfiguration.SslCaCerts"/> is
/// left empty on purpose: the client's own check of a custom CA accepts a certificate issued for another name
/// (see <see cref="KubeClient"/>), so the CA is kept in <paramref name="Authorities"/> and checked with the name.
/// </param>
/// <param name="Server">The API server's base URL.</param>
/// <param name="Namespace">The namespace used when a step names none.</param>
/// <param name="Source">Where these credentials came from (for messages; never a secret).</param>
/// <param name="Authorities">The CAs the server's certificate must chain to, or null for the system's.</param>
/// <param name="Key">What makes two clusters the same client (server, TLS and credential identity; secrets only as hashes).</param>
internal sealed record KubeCluster(
    KubernetesClientConfiguration Config,
    Uri Server,
    string Namespace,
    string Source,
    X509Certificate2Collection? Authorities,
    string Key);

/// <summary>
/// Finds credentials the way kubectl does: the step's <c>kubeconfig</c>, else <c>KUBECONFIG</c> (a list of files,
/// merged: the first file that sets a name wins), else <c>~/.kube/config</c>, else the pod's service account
/// (<c>KUBERNETES_SERVICE_HOST</c> and <c>/var/run/secrets/kubernetes.io/serviceaccount</c>). Files are read into the
/// official client's kubeconfig model (<see cref="KubernetesClientConfiguration.LoadKubeConfig(FileInfo, bool)"/>);
/// client certificates are loaded by its client, rotating tokens (service account, <c>tokenFile</c>) by its
/// <see cref="TokenFileAuth"/>, exec plugins by <see cref="KubeExecCredential"/> on its
/// <see cref="KubernetesClientConfiguration.ExecuteExternalCommand"/>. What this class adds is kubectl's merge of
/// several files with each name's file remembered, and errors that name the file, context, cluster or user.
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

    private static string Hash(string? secret) => secret is null ? "-" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static X509Certificate2Collection Authorities(Func<X509Certificate2Collection> load, string where)
    {
        X509Certificate2Collection collection;
        try
        {
            collection = load();
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            throw Config($"{where}: the certificate authority is not a PEM certificate: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Config($"cannot read the certificate authority {where}: {ex.Message}");
        }

        return collection.Count > 0 ? collection : throw Config($"{where}: the certificate authority holds no PEM certificate");
    }

    private static X509Certificate2Collection Pem(string pem)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(pem);
        return collection;
    }

    private static string Decode(string base64, string what, string file)
    {
        try
        {
            return Encoding.ASCII.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            throw Config($"{file}: {what} is not base64");
        }
    }

    private static string Check(string base64, string what, string file)
    {
        Decode(base64, what, file);
        return base64;
    }

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

    private static string Relative(string path, string kubeconfig) =>
        Path.IsPathRooted(path) ? path : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(kubeconfig)) ?? ".", path);

    private static string Readable(string path, string what) =>
        File.Exists(path) ? path : throw Config($"cannot read {what} {path}: it does not exist");

    /// <summary>
    /// kubectl's <c>tokenFile</c>, which the official model does not carry: read from the user's own file, or null.
    /// </summary>
    private static string? TokenFile(string file, string user)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(file))
        {
            stream.Load(reader);
        }

        var users = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode root && root.Children.TryGetValue(new YamlScalarNode("users"), out var u) ? u as YamlSequenceNode : null;
        var entry = users?.Children.OfType<YamlMappingNode>().FirstOrDefault(n => n.Children.TryGetValue(new YamlScalarNode("name"), out var name) && name is YamlScalarNode s && s.Value == user);
        return entry is not null && entry.Children.TryGetValue(new YamlScalarNode("user"), out var details) && details is YamlMappingNode map
            && map.Children.TryGetValue(new YamlScalarNode("tokenFile"), out var value) && value is YamlScalarNode { Value.Length: > 0 } path ? path.Value : null;
    }

    private static K8SConfiguration Read(string file)
    {
        try
        {
            return KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(file), useRelativePaths: true) ?? new K8SConfiguration();
        }
        catch (YamlException ex)
        {
            throw Config($"{file}:{ex.Start.Line}:{ex.Start.Column}: {ex.InnerException?.Message ?? ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Config($"cannot read kubeconfig {file}: {ex.Message}");
        }
    }

    private KubeCluster? InCluster()
    {
        var host = environment("KUBERNETES_SERVICE_HOST");
        if (string.IsNullOrEmpty(host))
        {
            return null;
        }

        // The official client's InClusterConfig reads the process's environment and the fixed mount path; this is the
        // same configuration built from the environment and directory this worker was given (tests point them elsewhere).
        var port = environment("KUBERNETES_SERVICE_PORT") is { Length: > 0 } p ? p : "443";
        var tokenFile = Path.Combine(serviceAccountDirectory, "token");
        var caFile = Path.Combine(serviceAccountDirectory, "ca.crt");
        if (!File.Exists(tokenFile))
        {
            throw Config($"KUBERNETES_SERVICE_HOST is set but there is no service-account token at {tokenFile} (automountServiceAccountToken: false?)");
        }

        var nsFile = Path.Combine(serviceAccountDirectory, "namespace");
        var ns = File.Exists(nsFile) ? File.ReadAllText(nsFile).Trim() : "default";
        var server = new UriBuilder("https", host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, int.Parse(port, global::System.Globalization.CultureInfo.InvariantCulture)).Uri;
        var authorities = File.Exists(caFile) ? Authorities(() => Pem(File.ReadAllText(caFile)), caFile) : null;
        var config = new KubernetesClientConfiguration
        {
            Host = server.AbsoluteUri,
            Namespace = ns,
            TokenProvider = new TokenFileAuth(tokenFile), // re-read as the kubelet rotates it
        };
        return new KubeCluster(config, server, ns, "the pod's service account", authorities, Identity(server, config, authorities, "file:" + tokenFile));
    }

    private static string Identity(Uri server, KubernetesClientConfiguration config, X509Certificate2Collection? authorities, string credential) => string.Join(
        '\n',
        server.AbsoluteUri,
        config.SkipTlsVerify,
        config.TlsServerName,
        authorities is null ? "-" : string.Join(',', authorities.Select(a => a.Thumbprint)),
        Hash(config.ClientCertificateData),
        Hash(config.ClientCertificateKeyData),
        credential);

    private KubeCluster FromKubeconfig(List<string> files, string? context)
    {
        // kubectl's merge: the first file to define a name wins, and each name keeps the file its paths are relative to.
        var clusters = new Dictionary<string, (ClusterEndpoint Endpoint, string File)>(StringComparer.Ordinal);
        var users = new Dictionary<string, (UserCredentials Credentials, string File)>(StringComparer.Ordinal);
        var contexts = new Dictionary<string, ContextDetails>(StringComparer.Ordinal);
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

            var read = Read(file);
            current ??= string.IsNullOrEmpty(read.CurrentContext) ? null : read.CurrentContext;
            foreach (var c in read.Clusters ?? [])
            {
                if (!string.IsNullOrEmpty(c.Name))
                {
                    clusters.TryAdd(c.Name, (c.ClusterEndpoint ?? throw Config($"{file}: clusters entry '{c.Name}' has no 'cluster' mapping"), file));
                }
            }

            foreach (var u in read.Users ?? [])
            {
                if (!string.IsNullOrEmpty(u.Name))
                {
                    users.TryAdd(u.Name, (u.UserCredentials ?? new UserCredentials(), file));
                }
            }

            foreach (var c in read.Contexts ?? [])
            {
                if (!string.IsNullOrEmpty(c.Name))
                {
                    contexts.TryAdd(c.Name, c.ContextDetails ?? throw Config($"{file}: contexts entry '{c.Name}' has no 'context' mapping"));
                }
            }
        }

        var source = string.Join(Path.PathSeparator, files);
        var name = context ?? current ?? throw Config($"{source} sets no current-context: name one with 'context' on the step");
        if (!contexts.TryGetValue(name, out var ctx))
        {
            throw Config($"{source} has no context '{name}'" + (contexts.Count > 0 ? $"; it has: {string.Join(", ", contexts.Keys.Order(StringComparer.Ordinal))}" : string.Empty));
        }

        var clusterName = string.IsNullOrEmpty(ctx.Cluster) ? throw Config($"context '{name}' in {source} names no cluster") : ctx.Cluster;
        if (!clusters.TryGetValue(clusterName, out var cluster))
        {
            throw Config($"context '{name}' names cluster '{clusterName}', which {source} does not define");
        }

        var server = cluster.Endpoint.Server;
        if (server is null || !Uri.TryCreate(server, UriKind.Absolute, out var serverUri) || serverUri.Scheme is not ("http" or "https"))
        {
            throw Config($"cluster '{clusterName}' in {cluster.File} has no http(s) 'server'");
        }

        var config = new KubernetesClientConfiguration
        {
            Host = serverUri.AbsoluteUri,
            SkipTlsVerify = cluster.Endpoint.SkipTlsVerify,
            TlsServerName = string.IsNullOrEmpty(cluster.Endpoint.TlsServerName) ? null : cluster.Endpoint.TlsServerName,
            Namespace = string.IsNullOrEmpty(ctx.Namespace) ? "default" : ctx.Namespace,
        };

        X509Certificate2Collection? authorities = null;
        if (!string.IsNullOrEmpty(cluster.Endpoint.CertificateAuthorityData))
        {
            var pem = Decode(cluster.Endpoint.CertificateAuthorityData, $"cluster '{clusterName}' certificate-authority-data", cluster.File);
            authorities = Authorities(() => Pem(pem), cluster.File);
        }
        else if (!string.IsNullOrEmpty(cluster.Endpoint.CertificateAuthority))
        {
            var path = Readable(Relative(cluster.Endpoint.CertificateAuthority, cluster.File), $"cluster '{clusterName}' certificate-authority");
            authorities = Authorities(() => Pem(File.ReadAllText(path)), path);
        }

        var credential = "none";
        if (!string.IsNullOrEmpty(ctx.User))
        {
            credential = User(config, ctx.User, users, name, source);
        }

        return new KubeCluster(config, serverUri, config.Namespace, $"context '{name}' of {source}", authorities, Identity(serverUri, config, authorities, credential));
    }

    /// <summary>Puts a kubeconfig user's credentials into <paramref name="config"/>.</summary>
    /// <returns>What identifies the credential for the client cache (secrets as hashes).</returns>
    private string User(KubernetesClientConfiguration config, string userName, Dictionary<string, (UserCredentials Credentials, string File)> users, string context, string source)
    {
        if (!users.TryGetValue(userName, out var user))
        {
            throw Config($"context '{context}' names user '{userName}', which {source} does not define");
        }

        var u = user.Credentials;
        if (u.AuthProvider is not null)
        {
            throw Config($"user '{userName}' in {user.File} gets its credentials from an auth-provider plugin (removed from kubectl in 1.26): use its exec credential plugin instead (e.g. kubelogin, gke-gcloud-auth-plugin), a token or a client certificate");
        }

        string credential;
        if (u.ExternalExecution is { } exec)
        {
            var plugin = KubeExecCredential.Create(exec, userName, user.File, time);
            config.TokenProvider = execs.GetOrAdd($"{Path.GetFullPath(user.File)}\n{userName}\n{plugin.Identity}", plugin);
            credential = "exec:" + plugin.Identity;
        }
        else if (!string.IsNullOrEmpty(u.Token))
        {
            config.AccessToken = u.Token;
            credential = "token:" + Hash(u.Token);
        }
        else if (TokenFile(user.File, userName) is { } tokenFile)
        {
            var path = Readable(Relative(tokenFile, user.File), $"user '{userName}' tokenFile");
            config.TokenProvider = new TokenFileAuth(path);
            credential = "file:" + path;
        }
        else if (!string.IsNullOrEmpty(u.UserName) && !string.IsNullOrEmpty(u.Password))
        {
            config.Username = u.UserName;
            config.Password = u.Password;
            credential = "basic:" + u.UserName + ":" + Hash(u.Password);
        }
        else
        {
            credential = "none";
        }

        var hasCertificate = !string.IsNullOrEmpty(u.ClientCertificateData) || !string.IsNullOrEmpty(u.ClientCertificate);
        var hasKey = !string.IsNullOrEmpty(u.ClientKeyData) || !string.IsNullOrEmpty(u.ClientKey);
        if (hasCertificate != hasKey)
        {
            throw Config($"user '{userName}' in {user.File} has a client certificate or a client key but not both");
        }

        if (hasCertificate)
        {
            // Files are read now into the data form the official loader takes, so a pair given one as data and one as a
            // file (which kubectl allows) loads too, and an unreadable file fails naming the user.
            config.ClientCertificateData = !string.IsNullOrEmpty(u.ClientCertificateData)
                ? Check(u.ClientCertificateData, $"user '{userName}' client-certificate-data", user.File)
                : Convert.ToBase64String(ReadBytes(Relative(u.ClientCertificate, user.File), $"user '{userName}' client-certificate"));
            config.ClientCertificateKeyData = !string.IsNullOrEmpty(u.ClientKeyData)
                ? Check(u.ClientKeyData, $"user '{userName}' client-key-data", user.File)
                : Convert.ToBase64String(ReadBytes(Relative(u.ClientKey, user.File), $"user '{userName}' client-key"));
        }

        return credential;
    }
}
