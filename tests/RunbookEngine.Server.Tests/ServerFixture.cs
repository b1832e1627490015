using Microsoft.Extensions.Logging;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.PowerShell;
using RunbookEngine.Cli;
using RunbookEngine.Storage.Sqlite;

namespace RunbookEngine.Server.Tests;

/// <summary>A real server on 127.0.0.1 (a free port) over a SQLite file, with tokens for every role.</summary>
public sealed class ServerFixture : IAsyncDisposable
{
    private readonly SemaphoreSlim progress = new(0);
    private SqliteWorkflowStore? store;
    private WebApplication? app;

    /// <summary>Scripts compiled by the server in these tests go to one directory of this test process.</summary>
    static ServerFixture() => Runbooks.Scripting.ScriptCache.Directory ??= Path.Combine(Path.GetTempPath(), "runbook-server-tests", $"scripts-{Environment.ProcessId}");

    public ServerFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "runbook-server-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(RunbooksDir);
        foreach (var f in System.IO.Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "runbooks"), "*.yaml"))
        {
            File.Copy(f, Path.Combine(RunbooksDir, Path.GetFileName(f)));
        }

        var tokens = new ApiTokenFile(TokensPath);
        var now = TimeProvider.System.GetUtcNow();
        Admin = tokens.Create("ada", ApiRole.Admin, [], now);
        Operator = tokens.Create("olga", ApiRole.Operator, [], now);
        Approver = tokens.Create("bob", ApiRole.Approver, ["sre-oncall"], now);
        Viewer = tokens.Create("vic", ApiRole.Viewer, [], now);
    }

    /// <summary>Gets every line the server logged, at every level.</summary>
    public CapturingLoggers Logs { get; } = new();

    /// <summary>The signing secret of the test's PagerDuty webhook subscription.</summary>
    public const string PagerDutySecret = "pd-signing-secret-7f3a";

    public string Directory { get; }

    public string RunbooksDir => Path.Combine(Directory, "runbooks");

    public string StorePath => Path.Combine(Directory, "server", "runbook.db");

    public string TokensPath => Path.Combine(Directory, "tokens.yaml");

    public string Admin { get; }

    public string Operator { get; }

    public string Approver { get; }

    public string Viewer { get; }

    public string Url { get; private set; } = string.Empty;

    public SqliteWorkflowStore Store => store ?? throw new InvalidOperationException("start the server first");

    public string Write(string name, string yaml)
    {
        var path = Path.Combine(RunbooksDir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public async Task<ServerFixture> StartAsync(long maxBody = 1024 * 1024, IReadOnlyDictionary<string, WebhookSource>? sources = null, int webhookSlots = 32, int webhookQueue = 256, bool metricsRequireToken = false)
    {
        store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = StorePath });
        app = RunbookServer.Build(
            new RunbookServerOptions
            {
                Urls = ["http://127.0.0.1:0"],
                RunbookDirectories = [RunbooksDir],
                TokensFile = TokensPath,
                MaxRequestBodyBytes = maxBody,
                Progress = () => progress.Release(),
                PagerDutySecrets = ["pd-rotated-out-secret", PagerDutySecret],
                Sources = sources ?? new Dictionary<string, WebhookSource>(),
                MaxConcurrentWebhooks = webhookSlots,
                WebhookQueueLimit = webhookQueue,
                ShutdownTimeout = TimeSpan.FromSeconds(5),
                MetricsRequireToken = metricsRequireToken,
                BacklogInterval = TimeSpan.FromMilliseconds(100),
            },
            store,
            store.DatabasePath,
            ActionCatalog.CreateDefault().AddPowerShell(), // what `runbook serve` serves
            Logs);
        await app.StartAsync();
        Url = app.Urls.Single();
        return this;
    }

    /// <summary>Stops the server and closes its store, then opens both again over the same files (default options).</summary>
    public async Task<ServerFixture> RestartAsync()
    {
        await app!.StopAsync();
        await app.DisposeAsync();
        await store!.DisposeAsync();
        (app, store) = (null, null);
        return await StartAsync();
    }

    /// <summary>Waits until a condition holds, re-checking after each commit of the server's worker (no polling sleeps).</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? limit = null)
    {
        using var timeout = new CancellationTokenSource(limit ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            try
            {
                await progress.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"waited {limit ?? TimeSpan.FromSeconds(30)} for {what}");
            }
        }
    }

    public async Task<string> RunStatusAsync(string runId) => (await Store.GetRunAsync(runId, CancellationToken.None))!.Status.ToString().ToLowerInvariant();

    public HttpClient Http(string? token)
    {
        var http = new HttpClient { BaseAddress = new Uri(Url) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    public static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonNode?> ReadAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync());

    /// <summary>Runs the CLI in this process against the server.</summary>
    public async Task<(int Code, string Out, string Err)> RemoteAsync(string token, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var vars = new Dictionary<string, string> { ["RUNBOOK_SERVER"] = Url, ["RUNBOOK_TOKEN"] = token, ["RUNBOOK_STORE"] = Path.Combine(Directory, "must-not-be-used.db") };
        var code = await CliApp.InvokeAsync(args, new CliIo(output, error, k => vars.GetValueOrDefault(k)));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Runs the CLI in this process on its own store (embedded mode), as user <paramref name="user"/>.</summary>
    public async Task<(int Code, string Out, string Err)> EmbeddedAsync(string user, string groups, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var vars = new Dictionary<string, string> { ["RUNBOOK_USER"] = user, ["RUNBOOK_GROUPS"] = groups, ["RUNBOOK_STORE"] = Path.Combine(Directory, "embedded", "runbook.db"), ["RUNBOOK_PATH"] = RunbooksDir };
        var code = await CliApp.InvokeAsync(args, new CliIo(output, error, k => vars.GetValueOrDefault(k)));
        return (code, output.ToString(), error.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        if (store is not null)
        {
            await store.DisposeAsync();
        }

        progress.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Keeps every log line of every category and level, to prove what never reaches the logs.</summary>
public sealed class CapturingLoggers : ILoggerFactory
{
    public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggers owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{category}: {formatter(state, exception)}");
    }
}
