namespace RunbookEngine.Server;

/// <summary>How <c>runbook serve</c> runs.</summary>
public sealed record RunbookServerOptions
{
    /// <summary>Gets the addresses to listen on. Default loopback only: <c>http://127.0.0.1:8080</c>.</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:8080"];

    /// <summary>Gets the directories runbooks are loaded from (by name; alert triggers are read from them).</summary>
    public IReadOnlyList<string> RunbookDirectories { get; init; } = ["runbooks"];

    /// <summary>Gets the API tokens file (see <see cref="ApiTokenFile"/>).</summary>
    public string TokensFile { get; init; } = ".runbook/tokens.yaml";

    /// <summary>
    /// Gets the webhook sources of the server configuration (<see cref="WebhookSources.Load"/>): per-source
    /// credentials and generic JSON webhooks. A source not listed needs an operator API token.
    /// </summary>
    public IReadOnlyDictionary<string, WebhookSource> Sources { get; init; } = new Dictionary<string, WebhookSource>();

    /// <summary>Gets the largest request body accepted; larger ones get 413. Default 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Gets the signing secrets of the PagerDuty V3 webhook subscriptions (several during a rotation). When set,
    /// <c>/hooks/pagerduty</c> accepts a delivery only with a matching <c>X-PagerDuty-Signature</c>, and needs no
    /// API token; when empty it needs an operator token like the other webhooks.
    /// </summary>
    public IReadOnlyList<string> PagerDutySecrets { get; init; } = [];

    /// <summary>Gets how many webhook requests are processed at once; more are queued up to <see cref="WebhookQueueLimit"/>, then answered 429.</summary>
    public int MaxConcurrentWebhooks { get; init; } = 32;

    /// <summary>Gets how many webhook requests may wait for a slot before the server sheds load with 429.</summary>
    public int WebhookQueueLimit { get; init; } = 256;

    /// <summary>Gets a value indicating whether an embedded worker executes runs (default true; false when separate workers do).</summary>
    public bool EmbeddedWorker { get; init; } = true;

    /// <summary>Gets the queues the embedded worker serves.</summary>
    public IReadOnlyList<string> Queues { get; init; } = ["default"];

    /// <summary>Gets how many runs and actions the embedded worker executes at once.</summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>Gets how long a graceful shutdown lets in-flight steps finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets a value indicating whether <c>GET /metrics</c> (Prometheus) needs an API token of any role, sent as
    /// <c>Authorization: Bearer</c>; default false: open, like most exporters, since it shows counts, never inputs.
    /// </summary>
    public bool MetricsRequireToken { get; init; }

    /// <summary>Gets how often the queue backlog (<c>runbook.queue.depth</c>, <c>runbook.queue.oldest_age</c>) is read from the store; default 15 s.</summary>
    public TimeSpan BacklogInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets how long finished runs and journal entries are kept: every <see cref="RetentionInterval"/> the server
    /// prunes what ended longer ago (as <c>runbook prune --older-than</c> does). Default null: kept forever.
    /// </summary>
    public TimeSpan? Retention { get; init; }

    /// <summary>Gets how often the retention prune runs; default 1 h (the first a minute after start).</summary>
    public TimeSpan RetentionInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Gets whether the web console is served at <c>/</c>, with its sign-in (<c>/api/session</c>). Default true.</summary>
    public bool Console { get; init; } = true;

    /// <summary>Gets how long a console sign-in lasts at most (a shift). Default 12 hours.</summary>
    public TimeSpan ConsoleSessionLifetime { get; init; } = TimeSpan.FromHours(12);

    /// <summary>Gets how long a console sign-in may go unused. Default 1 hour.</summary>
    public TimeSpan ConsoleSessionIdle { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Gets how often a live timeline (<c>/api/runs/{id}/events</c>) looks for new events. Default 500 ms.</summary>
    public TimeSpan EventPollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Gets how the server reads its <c>OTEL_*</c> settings (see <see cref="RunbookTelemetry"/>); default the process's environment.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Gets a callback after each commit of the embedded worker and each routed alert notification: for diagnostics and tests that wait for progress without polling.</summary>
    public Action? Progress { get; init; }
}
