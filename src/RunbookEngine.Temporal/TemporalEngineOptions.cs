namespace RunbookEngine.Temporal;

/// <summary>Where and how the Temporal engine connects, and what its runs carry.</summary>
/// <remarks>
/// Unset connection settings come from Temporal's own environment configuration (<c>TEMPORAL_ADDRESS</c>,
/// <c>TEMPORAL_NAMESPACE</c>, <c>TEMPORAL_API_KEY</c>, <c>TEMPORAL_TLS*</c>, <c>TEMPORAL_PROFILE</c> and the
/// <c>temporal.toml</c> file), as the Temporal CLI reads them; flags override them.
/// </remarks>
public sealed record TemporalEngineOptions
{
    /// <summary>The default task queue of runbook workflows and their actions.</summary>
    public const string DefaultTaskQueue = "runbooks";

    /// <summary>Gets the frontend address (<c>host:port</c>); null reads <c>TEMPORAL_ADDRESS</c>, else <c>localhost:7233</c>.</summary>
    public string? Address { get; init; }

    /// <summary>Gets the namespace; null reads <c>TEMPORAL_NAMESPACE</c>, else <c>default</c>.</summary>
    public string? Namespace { get; init; }

    /// <summary>Gets the API key (turns TLS on); null reads <c>TEMPORAL_API_KEY</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Gets the path of the client certificate (PEM) for mTLS; null reads <c>TEMPORAL_TLS_CLIENT_CERT_PATH</c>.</summary>
    public string? TlsCertPath { get; init; }

    /// <summary>Gets the path of the client key (PEM) for mTLS; null reads <c>TEMPORAL_TLS_CLIENT_KEY_PATH</c>.</summary>
    public string? TlsKeyPath { get; init; }

    /// <summary>Gets the path of the server's CA certificate (PEM); null reads <c>TEMPORAL_TLS_SERVER_CA_CERT_PATH</c> or trusts the system's.</summary>
    public string? TlsCaPath { get; init; }

    /// <summary>Gets the task queue of runbook workflows (and of actions without a queue of their own).</summary>
    public string TaskQueue { get; init; } = DefaultTaskQueue;

    /// <summary>Gets whether runs carry the <c>Runbook*</c> search attributes (they must exist in the namespace).</summary>
    public bool SearchAttributes { get; init; } = true;

    /// <summary>Gets how long connecting (and checking the namespace) may take before it is an error.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets how long reading a run's journal may wait for a worker to answer.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets the environment to read <c>TEMPORAL_*</c> from; null reads the process's.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
}
