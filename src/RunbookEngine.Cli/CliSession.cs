using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Storage.Postgres;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli;

/// <summary>One command invocation's view of the engine: store, runbooks, identity and output.</summary>
internal sealed class CliSession : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Indented = new(WorkflowJson.Options) { WriteIndented = true };
    private IWorkflowStore? store;

    public CliSession(ParseResult parse, GlobalOptions globals, CliIo io)
    {
        Io = io;
        StorePath = parse.GetValue(globals.Store) ?? io.Environment("RUNBOOK_STORE") ?? SqliteStoreOptions.DefaultPath;
        RunbooksDirectory = parse.GetValue(globals.Runbooks) ?? io.Environment("RUNBOOK_PATH") ?? "runbooks";
        Json = parse.GetValue(globals.Output) == "json";
        var user = io.Environment("RUNBOOK_USER") is { Length: > 0 } u ? u : Environment.UserName;
        Actor = "user:" + user;
        Groups = (io.Environment("RUNBOOK_GROUPS") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Loggers = io.Environment("RUNBOOK_LOG") is { Length: > 0 } level
            ? LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(Enum.TryParse<LogLevel>(level, true, out var l) ? l : LogLevel.Information))
            : NullLoggerFactory.Instance;
    }

    public CliIo Io { get; }

    public string StorePath { get; }

    /// <summary>Gets the store as shown to people: the SQLite path, or PostgreSQL's host, port and database (never a password).</summary>
    public string StoreName { get; private set; } = string.Empty;

    /// <summary>Gets or sets how long store calls retry while PostgreSQL is unreachable. Short for interactive commands; workers wait longer.</summary>
    public TimeSpan ReconnectWindow { get; set; } = TimeSpan.FromSeconds(5);

    public string RunbooksDirectory { get; }

    public bool Json { get; }

    public string Actor { get; }

    public IReadOnlyList<string> Groups { get; }

    public ILoggerFactory Loggers { get; }

    public ActionCatalog Actions { get; } = ActionCatalog.CreateDefault();

    public RunbookLibrary Library => new(Actions);

    public async Task<IWorkflowStore> StoreAsync(CancellationToken cancellationToken)
    {
        if (store is not null)
        {
            return store;
        }

        if (PostgresStoreOptions.IsPostgres(StorePath))
        {
            string connectionString;
            try
            {
                connectionString = PostgresStoreOptions.NormalizeConnectionString(StorePath);
            }
            catch (ArgumentException ex)
            {
                throw new CliException($"--store: {ex.Message}", ExitCodes.Invalid);
            }

            var pg = await PostgresWorkflowStore.OpenAsync(
                new PostgresStoreOptions
                {
                    ConnectionString = connectionString,
                    Schema = Io.Environment("RUNBOOK_PG_SCHEMA") is { Length: > 0 } schema ? schema : "runbook",
                    ReconnectWindow = ReconnectWindow,
                },
                cancellationToken).ConfigureAwait(false);
            StoreName = "postgres " + pg.Location;
            store = pg;
            return store;
        }

        var sqlite = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = StorePath }, cancellationToken).ConfigureAwait(false);
        StoreName = sqlite.DatabasePath;
        store = sqlite;
        return store;
    }

    public async Task<WorkflowClient> ClientAsync(CancellationToken cancellationToken) => new(await StoreAsync(cancellationToken).ConfigureAwait(false));

    public async Task<RunRecord> RunAsync(string runId, CancellationToken cancellationToken)
    {
        var s = await StoreAsync(cancellationToken).ConfigureAwait(false);
        return await s.GetRunAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new CliException($"no run '{runId}' in {StoreName}; `runbook runs` lists them", ExitCodes.Invalid);
    }

    /// <summary>The runbook a run is pinned to, parsed from the stored definition.</summary>
    public async Task<Runbook> PinnedRunbookAsync(RunRecord run, CancellationToken cancellationToken)
    {
        var s = await StoreAsync(cancellationToken).ConfigureAwait(false);
        var definition = await s.GetDefinitionAsync(run.DefinitionHash, cancellationToken).ConfigureAwait(false);
        if (definition is null || RunbookDefinitions.Read(definition) is not { } envelope)
        {
            throw new CliException($"run {run.RunId} is not a runbook run (workflow '{run.WorkflowName}')", ExitCodes.Invalid);
        }

        var (runbook, problems) = new RunbookParser(Actions).Parse(envelope.File, envelope.Source);
        return runbook ?? throw new RunbookValidationException(problems);
    }

    /// <summary>A worker that executes runbook runs and serves runbook actions on its queues.</summary>
    public async Task<WorkflowWorker> WorkerAsync(WorkerOptions options, CancellationToken cancellationToken) => new(
        await StoreAsync(cancellationToken).ConfigureAwait(false),
        new RunbookResolver(Actions, Loggers),
        options,
        new ActivityRegistry().AddRunbookActions(Actions, Loggers.CreateLogger("runbook.actions")),
        loggerFactory: Loggers);

    public void Line(string text = "") => Io.Out.WriteLine(text);

    public void Error(string text) => Io.Error.WriteLine(text);

    public void WriteJson(JsonNode? node) => Io.Out.WriteLine(node?.ToJsonString(Indented) ?? "null");

    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string?>> rows)
    {
        var all = rows.Select(r => r.Select(c => c ?? string.Empty).ToList()).ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToList();
        Line(string.Join("  ", headers.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (var r in all)
        {
            Line(string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }
    }

    public static JsonObject RunJson(RunRecord r) => new()
    {
        ["run_id"] = r.RunId,
        ["runbook"] = r.WorkflowName,
        ["status"] = r.Status.ToStoredName(),
        ["started_by"] = r.CreatedBy,
        ["created_at"] = r.CreatedAt,
        ["completed_at"] = r.CompletedAt,
        ["dry_run"] = WorkflowJson.Parse(r.Input)?["dry_run"]?.GetValue<bool>() ?? false,
        ["inputs"] = WorkflowJson.Parse(r.Input)?["inputs"]?.DeepClone(),
        ["output"] = WorkflowJson.Parse(r.Output),
        ["error_kind"] = r.ErrorKind,
        ["error"] = r.ErrorMessage,
        ["definition_hash"] = r.DefinitionHash,
    };

    public static JsonObject EventJson(TimelineEvent e) => new()
    {
        ["seq"] = e.Sequence,
        ["at"] = e.At,
        ["actor"] = e.Actor,
        ["kind"] = e.Kind,
        ["data"] = WorkflowJson.Parse(e.Data),
        ["hash"] = e.Hash,
    };

    public static string Time(DateTimeOffset t) => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static bool IsDryRun(RunRecord r) => WorkflowJson.Parse(r.Input)?["dry_run"]?.GetValue<bool>() ?? false;

    public void PrintDiagnostics(IEnumerable<RunbookDiagnostic> diagnostics)
    {
        foreach (var d in diagnostics)
        {
            Error(d.ToString());
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (store is not null)
        {
            await store.DisposeAsync().ConfigureAwait(false);
        }

        Loggers.Dispose();
    }
}
