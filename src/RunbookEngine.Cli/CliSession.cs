using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.PowerShell;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Postgres;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Temporal;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli;

/// <summary>One command invocation's view of the engine: store, runbooks, identity and output.</summary>
internal sealed class CliSession : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Indented = new(WorkflowJson.Options) { WriteIndented = true };
    /// <summary>The TEMPORAL_* variables the Temporal SDK's environment configuration reads (as the Temporal CLI does).</summary>
    private static readonly string[] TemporalVariables =
    [
        "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE",
        "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
        "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "HOME", "XDG_CONFIG_HOME",
    ];

    private readonly TemporalEngineOptions temporalSettings;
    private IWorkflowStore? store;
    private IRunbookService? service;
    private RemoteRunbookService? remote;
    private (Temporalio.Client.TemporalClient Client, TemporalEngineOptions Options)? temporal;

    public CliSession(ParseResult parse, GlobalOptions globals, CliIo io)
    {
        Io = io;
        StorePath = parse.GetValue(globals.Store) ?? io.Environment("RUNBOOK_STORE") ?? SqliteStoreOptions.DefaultPath;
        RunbooksDirectory = parse.GetValue(globals.Runbooks) ?? io.Environment("RUNBOOK_PATH") ?? "runbooks";
        Json = parse.GetValue(globals.Output) == "json";
        ServerUrl = parse.GetValue(globals.Server) ?? (io.Environment("RUNBOOK_SERVER") is { Length: > 0 } server ? server : null);
        Token = parse.GetValue(globals.Token) ?? io.Environment("RUNBOOK_TOKEN");
        var user = io.Environment("RUNBOOK_USER") is { Length: > 0 } u ? u : Environment.UserName;
        Actor = "user:" + user;
        Groups = (io.Environment("RUNBOOK_GROUPS") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Engine = parse.GetValue(globals.Engine) ?? (io.Environment("RUNBOOK_ENGINE") is { Length: > 0 } engine ? engine : "builtin");
        if (Engine is not ("builtin" or "temporal"))
        {
            throw new CliException($"RUNBOOK_ENGINE '{Engine}' is not an engine: use builtin or temporal", ExitCodes.Invalid);
        }

        temporalSettings = new TemporalEngineOptions
        {
            Address = parse.GetValue(globals.TemporalAddress),
            Namespace = parse.GetValue(globals.TemporalNamespace),
            ApiKey = parse.GetValue(globals.TemporalApiKey),
            TlsCertPath = parse.GetValue(globals.TemporalTlsCert),
            TlsKeyPath = parse.GetValue(globals.TemporalTlsKey),
            TlsCaPath = parse.GetValue(globals.TemporalTlsCa),
            TaskQueue = parse.GetValue(globals.TaskQueue) ?? (io.Environment("RUNBOOK_TEMPORAL_TASK_QUEUE") is { Length: > 0 } tq ? tq : TemporalEngineOptions.DefaultTaskQueue),
            SearchAttributes = io.Environment("RUNBOOK_TEMPORAL_SEARCH_ATTRIBUTES") != "off",
            Environment = TemporalVariables.Select(n => (Name: n, Value: io.Environment(n))).Where(v => v.Value is not null).ToDictionary(v => v.Name, v => v.Value!, StringComparer.Ordinal),
        };
        Loggers = CreateLoggers(
            parse.GetValue(globals.LogLevel) ?? (io.Environment("RUNBOOK_LOG") is { Length: > 0 } level ? level : null),
            parse.GetValue(globals.LogFormat) ?? (io.Environment("RUNBOOK_LOG_FORMAT") is { Length: > 0 } format ? format : null));
    }

    public CliIo Io { get; }

    /// <summary>
    /// The engine's logs, on stderr only: stdout carries a command's own output (the server's banner, a table, JSON),
    /// so a script or a supervisor reads it undisturbed. Off unless a level or a format is given.
    /// </summary>
    /// <param name="level">The minimum level, or null.</param>
    /// <param name="format">text or json, or null.</param>
    /// <returns>The logger factory.</returns>
    internal static ILoggerFactory CreateLoggers(string? level, string? format)
    {
        if (level is null && format is null)
        {
            return NullLoggerFactory.Instance;
        }

        if (format is not (null or "text" or "json"))
        {
            throw new CliException($"RUNBOOK_LOG_FORMAT '{format}' must be text or json", ExitCodes.Invalid);
        }

        var minimum = LogLevel.Information;
        if (level is not null && !Enum.TryParse(level, ignoreCase: true, out minimum))
        {
            throw new CliException($"RUNBOOK_LOG '{level}' must be Trace, Debug, Information, Warning, Error, Critical or None", ExitCodes.Invalid);
        }

        return LoggerFactory.Create(b =>
        {
            b.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId); // with tracing on, each line names its trace and span
            b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            if (format == "json")
            {
                b.AddJsonConsole(o =>
                {
                    o.IncludeScopes = true;
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                });
            }
            else
            {
                b.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.IncludeScopes = true;
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
                });
            }

            b.SetMinimumLevel(minimum);
        });
    }

    /// <summary>Gets the engine that runs the runs: <c>builtin</c> or <c>temporal</c>.</summary>
    public string Engine { get; }

    /// <summary>Gets a value indicating whether runs are Temporal workflows.</summary>
    public bool IsTemporal => Engine == "temporal" && ServerUrl is null;

    /// <summary>Gets where the runs are, as shown to people (the store, or Temporal's address and namespace).</summary>
    public string RunsName => temporal is { } t ? $"temporal {t.Options.Address} namespace {t.Options.Namespace}" : StoreName;

    public string StorePath { get; }

    /// <summary>Gets the store as shown to people: the SQLite path, or PostgreSQL's host, port and database (never a password).</summary>
    public string StoreName { get; private set; } = string.Empty;

    /// <summary>Gets or sets how long store calls retry while PostgreSQL is unreachable. Short for interactive commands; workers wait longer.</summary>
    public TimeSpan ReconnectWindow { get; set; } = TimeSpan.FromSeconds(5);

    public string RunbooksDirectory { get; }

    public bool Json { get; }

    public string? Token { get; }

    public string Actor { get; }

    public IReadOnlyList<string> Groups { get; }

    public ILoggerFactory Loggers { get; }

    public ActionCatalog Actions { get; } = ActionCatalog.CreateDefault().AddPowerShell();

    public RunbookLibrary Library => new(Actions);

    /// <summary>Gets the kinds of store <c>--store</c> may name: PostgreSQL by its connection string or URL, else a SQLite file.</summary>
    public static WorkflowStoreProviders StoreProviders { get; } = new WorkflowStoreProviders().Add(new PostgresStoreProvider()).Fallback(new SqliteStoreProvider());

    public async Task<IWorkflowStore> StoreAsync(CancellationToken cancellationToken)
    {
        if (store is not null)
        {
            return store;
        }

        IWorkflowStoreProvider provider;
        try
        {
            provider = StoreProviders.For(StorePath);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"--store: {ex.Message}", ExitCodes.Invalid);
        }

        try
        {
            (store, StoreName) = await provider.OpenAsync(new StoreOpenRequest(StorePath, Io.Environment, ReconnectWindow), cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"--store: {ex.Message}", ExitCodes.Invalid);
        }

        return store;
    }

    /// <summary>Gets a value indicating whether commands go to a server (<c>--server</c>, env RUNBOOK_SERVER) instead of a store.</summary>
    public bool IsRemote => ServerUrl is not null;

    public string? ServerUrl { get; }

    public Caller Caller => new(Actor, Groups);

    /// <summary>The API tokens file: the option's value, else env RUNBOOK_TOKENS, else .runbook/tokens.yaml.</summary>
    public string TokensPath(string? given) => given ?? (Io.Environment("RUNBOOK_TOKENS") is { Length: > 0 } t ? t : ".runbook/tokens.yaml");

    /// <summary>The runbook operations: the server's API in remote mode, else this process on the store.</summary>
    public async Task<IRunbookService> ServiceAsync(CancellationToken cancellationToken)
    {
        if (service is not null)
        {
            return service;
        }

        if (ServerUrl is not null)
        {
            service = remote = new RemoteRunbookService(ServerUrl, Token);
            return service;
        }

        // Temporal first: an unreachable cluster is reported before anything is created on disk.
        if (IsTemporal)
        {
            await TemporalAsync(cancellationToken).ConfigureAwait(false);
        }

        var s = await StoreAsync(cancellationToken).ConfigureAwait(false);
        var runs = IsTemporal ? await TemporalRunClientAsync(cancellationToken, guards: s).ConfigureAwait(false) : null;
        service = runs is not null
            ? new LocalRunbookService(runs, s, s, s, Actions, [RunbooksDirectory], RunsName)
            : new LocalRunbookService(s, Actions, [RunbooksDirectory], StoreName);
        return service;
    }

    /// <summary>A worker that executes runbook runs and serves runbook actions on its queues.</summary>
    public async Task<WorkflowWorker> WorkerAsync(WorkerOptions options, CancellationToken cancellationToken) =>
        RunbookWorkers.Create(await StoreAsync(cancellationToken).ConfigureAwait(false), Actions, options, Loggers);

    /// <summary>The connected Temporal client (once per command), or a one-line error naming what failed within 10 s.</summary>
    public async Task<(Temporalio.Client.TemporalClient Client, TemporalEngineOptions Options)> TemporalAsync(CancellationToken cancellationToken)
    {
        temporal ??= await TemporalConnector.ConnectAsync(temporalSettings, Loggers, cancellationToken).ConfigureAwait(false);
        return temporal.Value;
    }

    /// <summary>The run client over Temporal; with <paramref name="guards"/>, guarded runbooks are decided in that store.</summary>
    public async Task<TemporalRunClient> TemporalRunClientAsync(CancellationToken cancellationToken, RunbookEngine.Workflows.Storage.IGuardStore? guards = null)
    {
        var (client, options) = await TemporalAsync(cancellationToken).ConfigureAwait(false);
        return new TemporalRunClient(client, options, guards: guards);
    }

    /// <summary>
    /// Executes runs in this process while a command follows one: a kernel worker on the store, or a Temporal worker
    /// on the workflow task queue. Returns when <paramref name="stop"/> is cancelled and the worker has stopped.
    /// </summary>
    public async Task<Func<Task>> StartLocalWorkerAsync(CancellationToken stop, CancellationToken cancellationToken)
    {
        if (IsTemporal)
        {
            var (client, options) = await TemporalAsync(cancellationToken).ConfigureAwait(false);
            var running = TemporalRunbookWorker.RunAsync(client, Actions, new TemporalRunbookWorker.WorkerSettings { WorkflowTaskQueue = options.TaskQueue, ShutdownTimeout = TimeSpan.FromSeconds(10) }, Loggers, stop);
            return () => running;
        }

        var worker = await WorkerAsync(new WorkerOptions { PollInterval = TimeSpan.FromMilliseconds(200), ShutdownTimeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false);
        var serving = worker.RunAsync(stop);
        return async () =>
        {
            await serving.ConfigureAwait(false);
            await worker.DisposeAsync().ConfigureAwait(false);
        };
    }

    public void Line(string text = "") => Io.Out.WriteLine(text);

    public void Error(string text) => Io.Error.WriteLine(text);

    /// <summary>Gets the options of the JSON this command writes.</summary>
    public static JsonSerializerOptions JsonOptions => Indented;

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

    public static string Time(DateTimeOffset t) => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>Writes a view as JSON (the same shape the API returns).</summary>
    public void WriteJson<T>(T value) => WriteJson(JsonSerializer.SerializeToNode(value, Indented));

    /// <summary>A view as a JSON object, to add fields to.</summary>
    public static JsonObject ToObject<T>(T value) => JsonSerializer.SerializeToNode(value, Indented)!.AsObject();

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

        remote?.Dispose();

        Loggers.Dispose();
    }
}
