using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using RunbookEngine.Actions;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Testing;

namespace RunbookEngine.Console.Tests;

/// <summary>
/// A real <c>runbook serve</c> on 127.0.0.1 (a free port) over a SQLite file, with a token per role, and Debian's
/// Chromium driven by Playwright through its bundled driver (no browser download).
/// </summary>
public sealed class ConsoleFixture : IAsyncDisposable
{
    /// <summary>Where Debian's package puts Chromium (./test installs it).</summary>
    public const string Chromium = "/usr/bin/chromium";

    public const string Gated = """
        name: gated-restart
        description: Restart a host after an on-call engineer approves.
        inputs:
          host: { type: string, required: true }
        steps:
          - id: approve
            approval:
              approvers: ["group:sre-oncall"]
              message: "Restart ${{ inputs.host }}?"
          - id: restart
            action: log
            with: { message: "restarting ${{ inputs.host }}" }
        outputs:
          host: "${{ inputs.host }}"
        """;

    public const string SelfApproved = """
        name: self-approved
        steps:
          - id: approve
            approval:
              approvers: ["ada", "bob"]
          - id: done
            action: log
            with: { message: "done" }
        """;

    public const string Quick = """
        name: quick
        steps:
          - id: hello
            action: log
            with: { message: "hello" }
        """;

    public const string Targeted = """
        name: targeted
        inputs:
          host: { type: string, required: true }
        guards:
          target: "${{ inputs.host }}"
          max_live: 10
        triggers:
          - source: alertmanager
            match: ["alertname = DbDown", "severity =~ critical|page"]
            inputs: { host: "${{ alert.labels.instance }}" }
            mode: dry-run
        steps:
          - id: hello
            action: log
            with: { message: "on ${{ inputs.host }}" }
        """;

    private SqliteWorkflowStore? store;
    private WebApplication? app;
    private IPlaywright? playwright;

    public ConsoleFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "runbook-console-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(RunbooksDir);
        File.WriteAllText(Path.Combine(RunbooksDir, "gated-restart.yaml"), Gated);
        File.WriteAllText(Path.Combine(RunbooksDir, "self-approved.yaml"), SelfApproved);
        File.WriteAllText(Path.Combine(RunbooksDir, "quick.yaml"), Quick);
        File.WriteAllText(Path.Combine(RunbooksDir, "targeted.yaml"), Targeted);
        File.WriteAllText(Path.Combine(RunbooksDir, "long.yaml"), "name: long\nsteps:\n" + string.Concat(Enumerable.Range(1, 260).Select(i => $"  - id: s{i}\n    action: log\n    with: {{ message: \"step {i}\" }}\n")));
        Tokens = new Server.ApiTokenFile(Path.Combine(Directory, "tokens.yaml"));
        var now = TimeProvider.System.GetUtcNow();
        Admin = Tokens.Create("ada", Server.ApiRole.Admin, [], now);
        Operator = Tokens.Create("olga", Server.ApiRole.Operator, [], now);
        Approver = Tokens.Create("bob", Server.ApiRole.Approver, ["sre-oncall"], now);
        Viewer = Tokens.Create("vic", Server.ApiRole.Viewer, [], now);
    }

    public string Directory { get; }

    public string RunbooksDir => Path.Combine(Directory, "runbooks");

    public Server.ApiTokenFile Tokens { get; }

    public string Admin { get; }

    public string Operator { get; }

    public string Approver { get; }

    public string Viewer { get; }

    public string Url { get; private set; } = string.Empty;

    public SqliteWorkflowStore Store => store ?? throw new InvalidOperationException("start first");

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where the screenshots of the main pages go: what a reviewer looks at.</summary>
    public static string Screenshots
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RunbookEngine.sln")))
            {
                dir = dir.Parent;
            }

            var path = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "tests", "RunbookEngine.Console.Tests", "TestResults", "screenshots");
            System.IO.Directory.CreateDirectory(path);
            return path;
        }
    }

    public async Task<ConsoleFixture> StartAsync(TimeSpan? idle = null)
    {
        store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(Directory, "runbook.db") });
        app = Server.RunbookServer.Build(
            new Server.RunbookServerOptions
            {
                Urls = ["http://127.0.0.1:0"],
                RunbookDirectories = [RunbooksDir],
                TokensFile = Tokens.Path,
                ShutdownTimeout = TimeSpan.FromSeconds(5),
                EventPollInterval = TimeSpan.FromMilliseconds(100),
                ConsoleSessionIdle = idle ?? TimeSpan.FromHours(1),
            },
            store,
            store.DatabasePath,
            ActionCatalog.CreateDefault(),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await app.StartAsync();
        Url = app.Urls.Single();

        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"{Chromium} is missing: the browser tests need Debian's chromium package (./test installs it: apt-get install chromium)");
        }

        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,

            // Without these Chromium reaches for Google's hosts at start; nothing but 127.0.0.1 is allowed here.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
        return this;
    }

    /// <summary>A new browser (its own cookies) with a page at the console's address.</summary>
    public async Task<IPage> PageAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Url, ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    /// <summary>Signs in through the sign-in page, as a person would.</summary>
    public static async Task SignInAsync(IPage page, string token, string next = "/runs")
    {
        await page.GotoAsync("/signin?next=" + Uri.EscapeDataString(next));
        await page.GetByLabel("API token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByTestId("who").WaitForAsync();
    }

    public HttpClient Http(string? token)
    {
        var http = new HttpClient { BaseAddress = new Uri(Url) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    public async Task<string> StartRunAsync(string runbook, string inputs = "{}", string? token = null, bool dryRun = false)
    {
        using var http = Http(token ?? Operator);
        using var response = await http.PostAsync("/api/runs", new StringContent($$"""{"runbook":"{{runbook}}","inputs":{{inputs}},"dry_run":{{(dryRun ? "true" : "false")}}}""", Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!["run"]!["run_id"]!.GetValue<string>();
    }

    public async Task<string> StatusAsync(string runId) => (await Store.GetRunAsync(runId, CancellationToken.None))!.Status.ToString().ToLowerInvariant();

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        if (store is not null)
        {
            await store.DisposeAsync();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
