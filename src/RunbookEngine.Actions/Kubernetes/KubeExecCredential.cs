using k8s;
using k8s.KubeConfigModels;
using RunbookEngine.Workflows;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>
/// A kubeconfig user whose token comes from an exec credential plugin (<c>aws eks get-token</c>,
/// <c>gke-gcloud-auth-plugin</c>, <c>kubelogin</c>, ...): run by the official client's
/// <see cref="KubernetesClientConfiguration.ExecuteExternalCommand"/> and kept until shortly before it expires.
/// </summary>
internal sealed class KubeExecCredential
{
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(30);

    private readonly ExternalExecution exec;
    private readonly string user;
    private readonly string file;
    private readonly TimeProvider time;
    private readonly Lock gate = new();
    private (string Token, DateTimeOffset? Expires)? cached;

    private KubeExecCredential(ExternalExecution exec, string user, string file, TimeProvider time)
    {
        this.exec = exec;
        this.user = user;
        this.file = file;
        this.time = time;
    }

    /// <summary>Gets what the plugin is: its command, arguments and environment (a changed kubeconfig is another credential).</summary>
    public string Identity => string.Join('\u0001', [exec.ApiVersion, exec.Command, .. exec.Arguments, .. exec.EnvironmentVariables.SelectMany(e => e.Select(kv => kv.Key + "=" + kv.Value))]);

    /// <summary>Reads a user's <c>exec:</c> block as kubectl does: apiVersion, command, args, env.</summary>
    /// <param name="node">The <c>exec</c> mapping.</param>
    /// <param name="user">The user's name.</param>
    /// <param name="file">The kubeconfig it is in.</param>
    /// <param name="time">The clock of expiry.</param>
    /// <returns>The credential.</returns>
    public static KubeExecCredential Parse(YamlMappingNode node, string user, string file, TimeProvider time)
    {
        string? Scalar(string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;
        var command = Scalar("command") is { Length: > 0 } c ? c : throw Config($"user '{user}' in {file}: 'exec' needs 'command'");
        var exec = new ExternalExecution
        {
            ApiVersion = Scalar("apiVersion") ?? "client.authentication.k8s.io/v1",
            Command = command,
            Arguments = node.Children.TryGetValue(new YamlScalarNode("args"), out var args) && args is YamlSequenceNode list
                ? [.. list.Children.OfType<YamlScalarNode>().Select(a => a.Value ?? string.Empty)]
                : [],
            EnvironmentVariables = node.Children.TryGetValue(new YamlScalarNode("env"), out var env) && env is YamlSequenceNode vars
                ? [.. vars.Children.OfType<YamlMappingNode>().Select(v => v.Children.Where(kv => kv.Key is YamlScalarNode && kv.Value is YamlScalarNode).ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value ?? string.Empty, StringComparer.Ordinal))]
                : [],
            ProvideClusterInfo = string.Equals(Scalar("provideClusterInfo"), "true", StringComparison.OrdinalIgnoreCase),
            InstallHint = Scalar("installHint"),
        };
        return new KubeExecCredential(exec, user, file, time);
    }

    /// <summary>The token: the cached one while it is valid, else the plugin's new one.</summary>
    /// <returns>The bearer token.</returns>
    public string Token()
    {
        lock (gate)
        {
            var now = time.GetUtcNow();
            if (cached is { } c && (c.Expires is null || c.Expires > now + Margin))
            {
                return c.Token;
            }

            ExecCredentialResponse response;
            try
            {
                response = KubernetesClientConfiguration.ExecuteExternalCommand(exec);
            }
            catch (k8s.Exceptions.KubeConfigException ex)
            {
                // The plugin could not run or said no: a login may have expired; a later attempt may succeed.
                throw new StepException("KubernetesCredentials", $"kubernetes: user '{user}' in {file}: the exec credential plugin '{exec.Command}' failed: {ex.Message}{(exec.InstallHint is { } hint ? $" ({hint.Trim()})" : string.Empty)}");
            }

            if (response.Status?.Token is not { Length: > 0 } token)
            {
                throw Config($"user '{user}' in {file}: the exec credential plugin '{exec.Command}' returned no token (runbook uses plugins that return tokens, not client certificates)");
            }

            cached = (token, response.Status.ExpirationTimestamp is { } exp ? new DateTimeOffset(DateTime.SpecifyKind(exp, DateTimeKind.Utc)) : null);
            return token;
        }
    }

    private static StepException Config(string message) => new("KubernetesConfig", "kubernetes: " + message, nonRetryable: true);
}
