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
}
