using System.Net.Http.Headers;
using k8s;
using k8s.Authentication;
using k8s.KubeConfigModels;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>
/// A kubeconfig user whose token comes from an exec credential plugin (<c>aws eks get-token</c>,
/// <c>gke-gcloud-auth-plugin</c>, <c>kubelogin</c>, ...): run by the official client's
/// <see cref="KubernetesClientConfiguration.ExecuteExternalCommand"/> and kept until shortly before it expires.
/// </summary>
internal sealed class KubeExecCredential : ITokenProvider
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

    /// <summary>Takes a user's <c>exec:</c> block as the official model read it: apiVersion, command, args, env.</summary>
    /// <param name="exec">The <c>exec</c> block.</param>
    /// <param name="user">The user's name.</param>
    /// <param name="file">The kubeconfig it is in.</param>
    /// <param name="time">The clock of expiry.</param>
    /// <returns>The credential.</returns>
    public static KubeExecCredential Create(ExternalExecution exec, string user, string file, TimeProvider time)
    {
        if (string.IsNullOrEmpty(exec.Command))
        {
            throw Config($"user '{user}' in {file}: 'exec' needs 'command'");
        }

        var copy = new ExternalExecution
        {
            ApiVersion = string.IsNullOrEmpty(exec.ApiVersion) ? "client.authentication.k8s.io/v1" : exec.ApiVersion,
            Command = exec.Command,
            Arguments = exec.Arguments ?? [],
            EnvironmentVariables = exec.EnvironmentVariables ?? [],
            ProvideClusterInfo = exec.ProvideClusterInfo,
            InstallHint = exec.InstallHint,
        };
        return new KubeExecCredential(copy, user, file, time);
    }

    /// <inheritdoc/>
    public Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new AuthenticationHeaderValue("Bearer", Token()));

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
