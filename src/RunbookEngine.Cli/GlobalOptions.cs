using System.CommandLine;

namespace RunbookEngine.Cli;

/// <summary>Options every command accepts.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Store { get; } = new("--store")
    {
        Description = "The store: a SQLite file path (default .runbook/runbook.db), or a PostgreSQL connection string (Host=...;Database=...) or postgres:// URL shared by many machines. Env RUNBOOK_STORE.",
        Recursive = true,
    };

    public Option<string?> Runbooks { get; } = new("--runbooks")
    {
        Description = "The runbooks directory (default ./runbooks, env RUNBOOK_PATH).",
        Recursive = true,
    };

    public Option<string> Output { get; } = new Option<string>("--output", "-o")
    {
        Description = "table (for people, default) or json (for scripts).",
        Recursive = true,
        DefaultValueFactory = _ => "table",
    }.AcceptOnlyFromAmong("table", "json");

    public Option<string?> Server { get; } = new("--server")
    {
        Description = "Do everything through a `runbook serve` server's API instead of a local store, e.g. http://127.0.0.1:8080. Env RUNBOOK_SERVER.",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "The API token for --server (env RUNBOOK_TOKEN); its identity is the actor recorded in the timeline.",
        Recursive = true,
    };

    public Option<string?> Engine { get; } = new Option<string?>("--engine")
    {
        Description = "What runs the runs: builtin (the store's own engine, default) or temporal (workflows on a Temporal cluster; guards and the alert journal stay in --store). Env RUNBOOK_ENGINE.",
        Recursive = true,
    }.AcceptOnlyFromAmong("builtin", "temporal");

    public Option<string?> TemporalAddress { get; } = new("--temporal-address")
    {
        HelpName = "host:port",
        Description = "With --engine temporal: the frontend host:port (env TEMPORAL_ADDRESS, default localhost:7233).",
        Recursive = true,
    };

    public Option<string?> TemporalNamespace { get; } = new("--temporal-namespace")
    {
        HelpName = "name",
        Description = "With --engine temporal: the namespace (env TEMPORAL_NAMESPACE, default default).",
        Recursive = true,
    };

    public Option<string?> TemporalApiKey { get; } = new("--temporal-api-key")
    {
        HelpName = "key",
        Description = "With --engine temporal: an API key (turns TLS on). Prefer env TEMPORAL_API_KEY: a flag shows in the process list.",
        Recursive = true,
    };

    public Option<string?> TemporalTlsCert { get; } = new("--temporal-tls-cert")
    {
        HelpName = "file",
        Description = "With --engine temporal: the client certificate (PEM file) for mTLS (env TEMPORAL_TLS_CLIENT_CERT_PATH).",
        Recursive = true,
    };

    public Option<string?> TemporalTlsKey { get; } = new("--temporal-tls-key")
    {
        HelpName = "file",
        Description = "With --engine temporal: the client key (PEM file) for mTLS (env TEMPORAL_TLS_CLIENT_KEY_PATH).",
        Recursive = true,
    };

    public Option<string?> TemporalTlsCa { get; } = new("--temporal-tls-ca")
    {
        HelpName = "file",
        Description = "With --engine temporal: the server's CA certificate (PEM file) (env TEMPORAL_TLS_SERVER_CA_CERT_PATH; default the system's).",
        Recursive = true,
    };

    public Option<string?> TaskQueue { get; } = new("--task-queue")
    {
        HelpName = "name",
        Description = "With --engine temporal: the task queue of runbook workflows (env RUNBOOK_TEMPORAL_TASK_QUEUE, default runbooks).",
        Recursive = true,
    };

    /// <summary>Every global option, to add to the root command.</summary>
    public Option<string?> LogLevel { get; } = new Option<string?>("--log-level")
    {
        Description = "Write the engine's logs to stderr from this level up: Trace, Debug, Information, Warning, Error (default none; env RUNBOOK_LOG). stdout keeps only the command's own output.",
        Recursive = true,
    }.AcceptOnlyFromAmong("Trace", "Debug", "Information", "Warning", "Error", "Critical", "None");

    public Option<string?> LogFormat { get; } = new Option<string?>("--log-format")
    {
        Description = "text (one line each, default) or json (one JSON object per line, for log shippers). Env RUNBOOK_LOG_FORMAT. Giving it turns logs on at Information.",
        Recursive = true,
    }.AcceptOnlyFromAmong("text", "json");

    public IEnumerable<Option> All => [Store, Runbooks, Output, Server, Token, Engine, TemporalAddress, TemporalNamespace, TemporalApiKey, TemporalTlsCert, TemporalTlsKey, TemporalTlsCa, TaskQueue, LogLevel, LogFormat];
}
