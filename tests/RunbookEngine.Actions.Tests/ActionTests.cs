using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Tests;

public sealed class ActionTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "runbook-actions", Guid.NewGuid().ToString("N"));

    public ActionTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static ActionRequest Request(JsonObject with) => new("run_1", "step", 2, "run_1/3/2", "run_1/3", with, NullLogger.Instance);

    [Fact]
    public void The_catalog_finds_every_built_in_action()
    {
        Assert.Equal(["azure", "http", "kubernetes", "log", "notify", "prometheus", "shell"], ActionCatalog.CreateDefault().All.Select(a => a.Name));
    }

    [Fact]
    public async Task Notify_posts_the_slack_and_teams_webhook_shapes_and_names_only_the_host()
    {
        await using var chat = new LocalHttpServer((request, _) => request.Url!.AbsolutePath.EndsWith("/gone", StringComparison.Ordinal) ? (404, "no_team", "text/plain") : (200, "ok", "text/plain"));
        var notify = new NotifyAction();

        var slack = await notify.ExecuteAsync(Request(new JsonObject { ["url"] = $"{chat.Url}/services/T0/B0/XyZsecret", ["text"] = "disk on web-1 cleaned", ["title"] = "runbook disk-full-cleanup" }), CancellationToken.None);
        Assert.Equal(200, slack["status"]!.GetValue<int>());
        var sent = chat.Requests.ToArray();
        Assert.Equal("POST", sent[0].Method);
        Assert.Equal("""{"text":"*runbook disk-full-cleanup*\ndisk on web-1 cleaned"}""", sent[0].Body);

        await notify.ExecuteAsync(Request(new JsonObject { ["url"] = $"{chat.Url}/workflows/abc", ["text"] = "done", ["title"] = "Runbook", ["format"] = "teams" }), CancellationToken.None);
        var teams = JsonNode.Parse(chat.Requests.ToArray()[1].Body)!;
        Assert.Equal("message", teams["type"]!.GetValue<string>());
        var card = teams["attachments"]![0]!;
        Assert.Equal("application/vnd.microsoft.card.adaptive", card["contentType"]!.GetValue<string>());
        Assert.Equal(["Runbook", "done"], card["content"]!["body"]!.AsArray().Select(b => b!["text"]!.GetValue<string>()));

        var plan = await notify.PlanAsync(Request(new JsonObject { ["url"] = $"{chat.Url}/services/T0/B0/XyZsecret", ["text"] = "hi" }), CancellationToken.None);
        Assert.Equal("would post a slack message to 127.0.0.1: hi", plan.Summary);
        Assert.DoesNotContain("XyZsecret", plan.Target + plan.Summary + plan.Details?.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(2, chat.Requests.Count); // planning sent nothing

        var gone = await Assert.ThrowsAsync<StepException>(() => notify.ExecuteAsync(Request(new JsonObject { ["url"] = $"{chat.Url}/XyZsecret/gone", ["text"] = "hi" }), CancellationToken.None));
        Assert.Equal("NotifyFailed", gone.Kind);
        Assert.True(gone.NonRetryable);
        Assert.Equal("127.0.0.1 answered 404: no_team", gone.Message);
    }

    [Fact]
    public async Task Shell_runs_an_argument_list_without_a_shell_and_returns_its_output()
    {
        var result = await new ShellAction().ExecuteAsync(Request(new JsonObject { ["command"] = new JsonArray("printf", "%s|%s", "a b", "$HOME") }), CancellationToken.None);
        Assert.Equal("a b|$HOME", result["stdout"]!.GetValue<string>());
        Assert.Equal(0, result["exit_code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Shell_runs_a_string_through_bash_with_env_working_directory_stdin_and_the_idempotency_key()
    {
        var with = new JsonObject
        {
            ["command"] = "cat; echo \" $GREETING $(pwd) $RUNBOOK_IDEMPOTENCY_KEY $RUNBOOK_STEP_KEY\"",
            ["env"] = new JsonObject { ["GREETING"] = "hello" },
            ["working_directory"] = dir,
            ["stdin"] = "from-stdin",
        };
        var result = await new ShellAction().ExecuteAsync(Request(with), CancellationToken.None);
        Assert.Equal($"from-stdin hello {dir} run_1/3/2 run_1/3\n", result["stdout"]!.GetValue<string>());
    }

    [Fact]
    public async Task Shell_fails_the_attempt_on_a_non_zero_exit_with_the_stderr_tail()
    {
        var ex = await Assert.ThrowsAsync<StepException>(() => new ShellAction().ExecuteAsync(Request(new JsonObject { ["command"] = "echo 'no space left' >&2; exit 28" }), CancellationToken.None));
        Assert.Equal("ExitCode", ex.Kind);
        Assert.Equal("`echo 'no space left' >&2; exit 28` exited with code 28: no space left", ex.Message);
        Assert.False(ex.NonRetryable);
    }

    [Fact]
    public async Task Shell_reports_a_missing_program_as_not_retryable()
    {
        var ex = await Assert.ThrowsAsync<StepException>(() => new ShellAction().ExecuteAsync(Request(new JsonObject { ["command"] = new JsonArray("no-such-program-4711") }), CancellationToken.None));
        Assert.Equal("CommandNotFound", ex.Kind);
        Assert.True(ex.NonRetryable);
    }

    [Fact]
    public async Task Shell_kills_the_whole_process_tree_when_cancelled()
    {
        var pidFile = Path.Combine(dir, "child.pid");
        using var cts = new CancellationTokenSource();
        var running = new ShellAction().ExecuteAsync(Request(new JsonObject { ["command"] = $"sleep 300 & echo $! > {pidFile}; wait" }), cts.Token);
        var watch = Stopwatch.StartNew();
        while (!File.Exists(pidFile) || (await File.ReadAllTextAsync(pidFile)).Trim().Length == 0)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "the command did not start");
            await Task.Yield();
        }

        var child = int.Parse((await File.ReadAllTextAsync(pidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        using var process = Process.GetProcessById(child);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(process.HasExited);
    }

    [Fact]
    public async Task Shell_plan_describes_the_command_and_runs_nothing()
    {
        var marker = Path.Combine(dir, "marker");
        var plan = await new ShellAction().PlanAsync(Request(new JsonObject { ["command"] = new JsonArray("touch", marker), ["env"] = new JsonObject { ["A"] = "1" } }), CancellationToken.None);
        Assert.Equal($"would run: touch {marker} with env A", plan.Summary);
        Assert.Equal(SideEffect.Mutating, plan.SideEffect);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task Http_sends_method_headers_and_json_body_and_parses_a_json_answer()
    {
        await using var server = new LocalHttpServer((_, _) => (201, "{\"id\":7}", "application/json"));
        var with = new JsonObject
        {
            ["method"] = "post",
            ["url"] = server.Url + "/items",
            ["headers"] = new JsonObject { ["X-Team"] = "sre" },
            ["body"] = new JsonObject { ["name"] = "web-1" },
        };
        var result = await new HttpAction().ExecuteAsync(Request(with), CancellationToken.None);

        Assert.Equal(201, result["status"]!.GetValue<int>());
        Assert.Equal(7, result["json"]!["id"]!.GetValue<int>());
        var seen = Assert.Single(server.Requests);
        Assert.Equal(("POST", "/items", "{\"name\":\"web-1\"}"), (seen.Method, seen.Path, seen.Body));
        Assert.Equal("sre", seen.Headers["X-Team"]);
        Assert.Equal("run_1/3/2", seen.Headers["Idempotency-Key"]);
        Assert.StartsWith("application/json", seen.Headers["Content-Type"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_fails_on_an_unexpected_status_and_accepts_an_expected_one()
    {
        await using var server = new LocalHttpServer((_, _) => (503, "maintenance", "text/plain"));
        var ex = await Assert.ThrowsAsync<StepException>(() => new HttpAction().ExecuteAsync(Request(new JsonObject { ["url"] = server.Url + "/h" }), CancellationToken.None));
        Assert.Equal("HttpStatus", ex.Kind);
        Assert.Equal($"GET {server.Url}/h returned 503 (expected 2xx): maintenance", ex.Message);

        var ok = await new HttpAction().ExecuteAsync(Request(new JsonObject { ["url"] = server.Url + "/h", ["expect_status"] = new JsonArray(200, 503) }), CancellationToken.None);
        Assert.Equal("maintenance", ok["body"]!.GetValue<string>());
        Assert.Null(ok["json"]);
    }

    [Fact]
    public async Task Http_reports_a_refused_connection_and_a_bad_url()
    {
        await using var gone = new LocalHttpServer((_, _) => (200, string.Empty, "text/plain"));
        var url = gone.Url;
        await gone.DisposeAsync();
        var refused = await Assert.ThrowsAsync<StepException>(() => new HttpAction().ExecuteAsync(Request(new JsonObject { ["url"] = url }), CancellationToken.None));
        Assert.Equal("HttpError", refused.Kind);
        var bad = await Assert.ThrowsAsync<StepException>(() => new HttpAction().ExecuteAsync(Request(new JsonObject { ["url"] = "ftp://x" }), CancellationToken.None));
        Assert.True(bad.NonRetryable);
    }

    [Fact]
    public async Task Http_plan_sends_nothing_and_classifies_the_method()
    {
        await using var server = new LocalHttpServer((_, _) => (200, "{}", "application/json"));
        var get = await new HttpAction().PlanAsync(Request(new JsonObject { ["url"] = server.Url }), CancellationToken.None);
        var delete = await new HttpAction().PlanAsync(Request(new JsonObject { ["url"] = server.Url, ["method"] = "DELETE" }), CancellationToken.None);
        Assert.Equal((SideEffect.ReadOnly, SideEffect.Destructive), (get.SideEffect, delete.SideEffect));
        Assert.Equal($"would send GET {server.Url}", get.Summary);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Log_returns_its_message()
    {
        var result = await new LogAction().ExecuteAsync(Request(new JsonObject { ["message"] = "disk at 91%", ["level"] = "warning" }), CancellationToken.None);
        Assert.Equal(("disk at 91%", "warning"), (result["message"]!.GetValue<string>(), result["level"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Progress_an_action_saves_reaches_the_engine_with_known_secrets_redacted_and_comes_back_to_the_next_attempt()
    {
        Environment.SetEnvironmentVariable("RB_PROGRESS_SECRET", "progress-secret-value");
        var saved = new List<JsonNode>();
        var action = new ProgressAction();
        var with = new JsonObject { ["token"] = "secret://env/RB_PROGRESS_SECRET" };
        var first = new StepContext("run_1", "step", 3, 1, null, NullLogger.Instance, CancellationToken.None, null, p =>
        {
            saved.Add(p);
            return Task.CompletedTask;
        });

        await ActionRunner.ExecuteAsync(action, with, "step", first, NullLogger.Instance);
        Assert.Equal("""{"operation":"op-1","url":"https://example.test/op?sig=***"}""", Assert.Single(saved).ToJsonString());
        Assert.Null(action.Handed);

        var second = new StepContext("run_1", "step", 3, 2, null, NullLogger.Instance, CancellationToken.None, saved[0], _ => Task.CompletedTask);
        await ActionRunner.ExecuteAsync(action, with, "step", second, NullLogger.Instance);
        Assert.Equal("op-1", action.Handed);
    }

    [Fact]
    public void Secrets_resolve_from_env_and_file_alone_or_embedded_and_are_redacted()
    {
        Environment.SetEnvironmentVariable("RB_ACTIONS_SECRET", "env-value");
        var file = Path.Combine(dir, "token");
        File.WriteAllText(file, "file-value\n");
        var revealed = new List<string>();
        var resolved = Secrets.Resolve(new JsonObject { ["a"] = "secret://env/RB_ACTIONS_SECRET", ["b"] = new JsonArray($"Bearer secret://file/{file}") }, revealed)!;

        Assert.Equal("env-value", resolved["a"]!.GetValue<string>());
        Assert.Equal("Bearer file-value", resolved["b"]![0]!.GetValue<string>());
        Assert.Equal(["env-value", "file-value"], revealed.Order(StringComparer.Ordinal));
        Assert.Equal("{\"out\":\"got *** and ***\"}", Secrets.Redact(new JsonObject { ["out"] = "got env-value and file-value" }, revealed)!.ToJsonString());
    }

    [Theory]
    [InlineData("secret://env/RB_NOT_SET_ANYWHERE", "no environment variable RB_NOT_SET_ANYWHERE")]
    [InlineData("secret://vault/x", "unknown secret source 'vault'")]
    [InlineData("secret://file//no/such/file", "cannot read the file")]
    public void An_unresolvable_secret_fails_without_retry_and_without_a_value(string reference, string message)
    {
        var ex = Assert.Throws<StepException>(() => Secrets.Resolve(new JsonObject { ["x"] = reference }, new List<string>()));
        Assert.Equal("SecretUnavailable", ex.Kind);
        Assert.True(ex.NonRetryable);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Saves progress that carries a resolved secret (as a careless action might), and says what it was handed.</summary>
    private sealed class ProgressAction : IRunbookAction
    {
        public string? Handed { get; private set; }

        public string Name => "progress";

        public string Description => "saves progress";

        public SideEffect SideEffect => SideEffect.Mutating;

        public IReadOnlyList<ActionParameter> Parameters { get; } = [new("token", ParameterType.String, true, "a token")];

        public IReadOnlyList<string> ResultFields { get; } = [];

        public Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
        {
            Handed = request.Progress?["operation"]?.GetValue<string>();
            if (request.Progress is null)
            {
                await request.SaveProgressAsync(new JsonObject { ["operation"] = "op-1", ["url"] = "https://example.test/op?sig=" + request.With["token"]!.GetValue<string>() });
            }

            return [];
        }
    }
}
