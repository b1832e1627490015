// The web console's page times in Debian's Chromium (headless, through Playwright): a run page whose timeline has
// about 1,000 events, and the runs list over 10,000 runs, both on a SQLite store, served by a real server on
// 127.0.0.1. Each page is opened ROUNDS times in a fresh browser context (no cache); the figures are medians of
// first contentful paint and of "ready" (the page's data rendered: the 1,000th timeline row, the 50 list rows).
// Usage: dotnet run -c Release --project bench/RunbookEngine.ConsoleBench [ROUNDS]
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Server;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;

var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 15;
var dir = Path.Combine(Path.GetTempPath(), "runbook-console-bench-" + Environment.ProcessId);
Directory.CreateDirectory(Path.Combine(dir, "runbooks"));
const int Steps = 499; // two events a step, plus the run's own: 1,002 events
File.WriteAllText(Path.Combine(dir, "runbooks", "long.yaml"), "name: long\nsteps:\n" + string.Concat(Enumerable.Range(1, Steps).Select(i => $"  - id: s{i}\n    action: log\n    with: {{ message: \"step {i}\" }}\n")));
File.WriteAllText(Path.Combine(dir, "runbooks", "quick.yaml"), "name: quick\nsteps:\n  - id: hello\n    action: log\n    with: { message: hi }\n");
var tokens = new ApiTokenFile(Path.Combine(dir, "tokens.yaml"));
var token = tokens.Create("bench", ApiRole.Viewer, [], TimeProvider.System.GetUtcNow());
var actions = ActionCatalog.CreateDefault();
await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(dir, "runbook.db") });
var service = new LocalRunbookService(store, actions, [Path.Combine(dir, "runbooks")], "bench", TimeProvider.System);
var caller = new Caller("user:bench", []);

var setup = Stopwatch.StartNew();
var longRun = (await service.StartAsync(new StartRequest { Runbook = "long" }, caller, CancellationToken.None)).Run.RunId;
var worker = RunbookWorkers.Create(store, actions, new WorkerOptions(), NullLoggerFactory.Instance);
await worker.RunUntilIdleAsync(CancellationToken.None);
await worker.DisposeAsync();
var events = (await store.GetTimelineAsync(longRun, 0, 100_000, CancellationToken.None)).Count;
const int Runs = 10_000;
for (var i = 0; i < Runs; i += 50)
{
    await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => service.StartAsync(new StartRequest { Runbook = "quick" }, caller, CancellationToken.None)));
}

Console.WriteLine($"setup: run with {events} events, {Runs} more runs, in {setup.Elapsed.TotalSeconds:F1} s");

var app = RunbookServer.Build(
    new RunbookServerOptions { Urls = ["http://127.0.0.1:0"], RunbookDirectories = [Path.Combine(dir, "runbooks")], TokensFile = tokens.Path, EmbeddedWorker = false },
    store,
    store.DatabasePath,
    actions,
    NullLoggerFactory.Instance);
await app.StartAsync();
var url = app.Urls.Single();
using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});

async Task<(double Paint, double Ready)> MeasureAsync(string path, string readyScript)
{
    await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = url, ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
    var page = await context.NewPageAsync();
    var signIn = await page.APIRequest.PostAsync("/api/session", new APIRequestContextOptions { DataObject = new { token } });
    if (signIn.Status != 201)
    {
        throw new InvalidOperationException("sign-in failed: " + signIn.Status);
    }

    await page.GotoAsync(path);
    var ready = await (await page.WaitForFunctionAsync(readyScript, null, new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 5 })).JsonValueAsync<double>();
    var paint = await page.EvaluateAsync<double>("() => (performance.getEntriesByName('first-contentful-paint')[0] || { startTime: -1 }).startTime");
    return (paint, ready);
}

static double Median(List<double> xs)
{
    xs.Sort();
    return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[(xs.Count / 2) - 1] + xs[xs.Count / 2]) / 2;
}

var cases = new (string Name, string Path, string Ready)[]
{
    // The page shows the newest 500 events and a button for the earlier ones: ready when those are rendered.
    ($"run page, {events}-event timeline", "/runs/" + longRun, $"() => document.querySelector(\"[data-testid='timeline'] li.more\") && document.querySelectorAll(\"[data-testid='timeline'] li\").length >= {Math.Min(events, 500) + 1} ? performance.now() : false"),
    ($"runs list over {Runs + 1} runs (first 50)", "/runs", "() => document.querySelectorAll('table.runs tbody tr').length === 50 ? performance.now() : false"),
    ($"runs list, page 100 by cursor", null!, "() => document.querySelectorAll('table.runs tbody tr').length === 50 ? performance.now() : false"),
};

// Page 100 of the list: the cursor of the 4,950th run, as the page's "Older runs" link would carry it.
var page99 = (await service.ListRunsAsync(new RunFilter { Limit = 4950 }, CancellationToken.None))[^1];
cases[2].Path = $"/runs?before={Uri.EscapeDataString(page99.CreatedAt.ToString("O", CultureInfo.InvariantCulture))}&before_id={page99.RunId}";

await MeasureAsync(cases[0].Path, cases[0].Ready); // warm-up: JIT and SQLite caches
Console.WriteLine($"{rounds} rounds each, medians (min-max), milliseconds from navigation start");
foreach (var (name, path, ready) in cases)
{
    var paints = new List<double>();
    var readies = new List<double>();
    for (var r = 0; r < rounds; r++)
    {
        var (p, d) = await MeasureAsync(path, ready);
        paints.Add(p);
        readies.Add(d);
    }

    Console.WriteLine($"{name}: first contentful paint {Median([.. paints]):F0} ({paints.Min():F0}-{paints.Max():F0}), ready {Median([.. readies]):F0} ({readies.Min():F0}-{readies.Max():F0})");
}

await app.StopAsync();
await app.DisposeAsync();
Directory.Delete(dir, recursive: true);
