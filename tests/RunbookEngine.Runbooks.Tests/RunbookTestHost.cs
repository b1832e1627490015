using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>Runbooks executed through the real kernel on a real SQLite file, with a manual clock.</summary>
public sealed class RunbookTestHost : IAsyncDisposable
{
    private RunbookTestHost(string directory, SqliteWorkflowStore store, ActionCatalog actions)
    {
        Directory = directory;
        Store = store;
        Actions = actions;
        Client = new WorkflowClient(store, Time);
        Resolver = new RunbookResolver(Actions);
    }

    public string Directory { get; }

    public SqliteWorkflowStore Store { get; }

    public ManualTimeProvider Time { get; } = new();

    public WorkflowClient Client { get; }

    public ActionCatalog Actions { get; }

    public CapturingLoggerFactory Logs { get; } = new();

    public RunbookResolver Resolver { get; }

    /// <summary>A host on a fresh SQLite file.</summary>
    /// <param name="actions">The actions runbooks may use; default the built-in ones.</param>
    public static async Task<RunbookTestHost> CreateAsync(ActionCatalog? actions = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "runbook-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(dir, "runbook.db") });
        return new RunbookTestHost(dir, store, actions ?? ActionCatalog.CreateDefault());
    }

    /// <summary>Scripts compiled by the tests go to one directory of this test process, not the user's cache.</summary>
    static RunbookTestHost() => Runbooks.Scripting.ScriptCache.Directory ??= Path.Combine(Path.GetTempPath(), "runbook-tests", $"scripts-{Environment.ProcessId}");

    public Runbook Parse(string yaml, string file = "test.yaml")
    {
        var (runbook, problems) = RunbookLibrary.Parse(Actions, file, yaml);
        Assert.True(runbook is not null, string.Join('\n', problems));
        return runbook!;
    }

    public async Task<string> StartAsync(string yaml, JsonObject? inputs = null, bool dryRun = false, string actor = "user:alice", string file = "test.yaml")
    {
        var runbook = Parse(yaml, file);
        var (bound, problems) = InputBinder.Bind(runbook, inputs ?? []);
        Assert.True(problems.Count == 0, string.Join('\n', problems));
        var started = await Client.StartAsync(RunbookDefinitions.ToDefinition(runbook), new StartRunOptions { Input = new RunbookRunInput(bound, dryRun).ToJson(), Actor = actor });
        return started.Run.RunId;
    }

    /// <summary>A worker of the queues; every worker that runs runbooks registers the action activities, which its inline steps call.</summary>
    public WorkflowWorker Worker(string id = "w1", IReadOnlyList<string>? queues = null) => new(
        Store,
        Resolver,
        new WorkerOptions { WorkerId = id, Queues = queues ?? ["default"] },
        new ActivityRegistry().AddRunbookActions(Actions, Logs.CreateLogger("actions")),
        Time,
        Logs);

    public Task<int> DrainAsync() => Worker().RunUntilIdleAsync(CancellationToken.None);

    public async Task<RunRecord> RunAsync(string runId) => (await Store.GetRunAsync(runId, CancellationToken.None))!;

    public async Task<IReadOnlyList<TimelineEvent>> TimelineAsync(string runId) => await Store.GetTimelineAsync(runId, 0, 100_000, CancellationToken.None);

    public async Task<RunHistory> HistoryAsync(string runId) => await Store.LoadHistoryAsync(runId, CancellationToken.None);

    public Task DecideAsync(string runId, string step, string who, string decision, params string[] groups) =>
        Client.SignalAsync(runId, RunbookWorkflow.ApprovalSignalPrefix + step, new JsonObject { ["decision"] = decision, ["comment"] = $"{decision} by {who}", ["groups"] = new JsonArray([.. groups.Select(g => JsonValue.Create(g))]) }, who);

    /// <summary>
    /// Closes the store (so every byte is on disk) and asserts that <paramref name="text"/> is in none of the
    /// database's files (the file, its WAL and shared memory) and in no log line.
    /// </summary>
    public async Task AssertNeverStoredOrLoggedAsync(string text, string what)
    {
        await Store.DisposeAsync();
        var needle = System.Text.Encoding.UTF8.GetBytes(text);
        foreach (var file in System.IO.Directory.GetFiles(Directory, "runbook.db*"))
        {
            Assert.False(File.ReadAllBytes(file).AsSpan().IndexOf(needle) >= 0, $"{Path.GetFileName(file)} contains {what}");
        }

        Assert.DoesNotContain(Logs.Lines, l => l.Contains(text, StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }
}

/// <summary>Keeps every log line, to prove what never reaches the logs.</summary>
public sealed class CapturingLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue(formatter(state, exception) + (exception is null ? string.Empty : " " + exception));
    }
}
