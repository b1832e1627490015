using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Scripting;
using RunbookEngine.Testing;
using RunbookEngine.Scripting;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>C# script runbooks compiled with Roslyn and run on the real kernel over a real SQLite file.</summary>
public sealed class ScriptRunbookTests : IAsyncLifetime
{
    private RunbookTestHost host = null!;

    public async Task InitializeAsync() => host = await RunbookTestHost.CreateAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private Task<string> StartAsync(string script, JsonObject? inputs = null, bool dryRun = false, string actor = "user:alice") =>
        host.StartAsync(script, inputs, dryRun, actor, file: "test.csx");

    [Fact]
    public async Task A_script_runs_actions_custom_steps_and_loops_as_durable_steps_and_sets_its_outputs()
    {
        var script = """
            /*---
            name: pods
            inputs:
              pods: { type: list, required: true }
              greeting: { type: string, default: hello }
            outputs:
              restarted: the pods restarted
              summary: what was done
            ---*/
            var restarted = new List<string>();
            foreach (var pod in Input<string[]>("pods"))
            {
                var probe = await Shell("probe", ["bash", "-c", $"echo {pod}; echo status=$([ {pod} = web-2 ] && echo bad || echo ok)"]);
                if (probe.Lines.Last() == "status=bad")
                {
                    await Shell("restart", $"echo restarting {pod}");
                    restarted.Add(pod);
                }
            }

            var summary = await Step("summarize", () => new Summary(restarted.Count, string.Join(",", restarted)));
            await Log("report", $"{Input<string>("greeting")}: restarted {summary.Count}");
            Output("restarted", restarted);
            Output("summary", summary);

            record Summary(int Count, string Names);
            """;
        var run = await StartAsync(script, new JsonObject { ["pods"] = new JsonArray("web-1", "web-2", "web-3") });
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.True(done.Status == RunStatus.Completed, done.ErrorMessage);
        Assert.Equal("""{"restarted":["web-2"],"summary":{"Count":1,"Names":"web-2"}}""", done.Output);
        var history = await host.HistoryAsync(run);
        Assert.Equal(["probe", "probe#2", "restart", "probe#3", "summarize", "report"], history.Steps.Select(s => s.Name));
        Assert.All(history.Steps, s => Assert.Equal(StepStatus.Completed, s.Status));
        Assert.Contains(host.Logs.Lines, l => l.Contains("hello: restarted 1", StringComparison.Ordinal));
        Assert.Null(TimelineChain.Verify(await host.TimelineAsync(run)));
    }

    [Fact]
    public async Task A_dry_run_of_a_script_plans_its_actions_and_runs_no_custom_code_and_no_side_effect()
    {
        await using var api = new LocalHttpServer((_, _) => (200, "{}", "application/json"));
        var marker = Path.Combine(host.Directory, "touched");
        var written = Path.Combine(host.Directory, "written");
        var script = $$"""
            /*---
            name: dry
            ---*/
            var probe = await Http("probe", "{{api.Url}}/health");
            await Approval("approve", ["bob"], message: "restart?");
            await Shell("touch", ["touch", "{{marker}}"]);
            await Http("restart", "{{api.Url}}/restart", method: "POST", body: new { reason = "test" });
            await Step("write", () => System.IO.File.WriteAllText("{{written}}", "x"));
            await Sleep("nap", TimeSpan.FromMinutes(5));
            await WaitUntil("healthy", () => Http("poll", "{{api.Url}}/health"), r => r.Status == 200, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1));
            """;
        var run = await StartAsync(script, dryRun: true);
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.True(done.Status == RunStatus.Completed, done.ErrorMessage);
        Assert.Empty(api.Requests);
        Assert.False(File.Exists(marker));
        Assert.False(File.Exists(written));
        var history = await host.HistoryAsync(run);
        var plan = string.Join('\n', history.Steps.Select(s => $"{s.Name}: {JsonNode.Parse(s.Output ?? "{}")?["summary"]}"));
        Assert.Contains($"touch: would run: touch {marker}", plan, StringComparison.Ordinal);
        Assert.Contains($"restart: would send POST {api.Url}/restart", plan, StringComparison.Ordinal);
        Assert.Contains("approve: would wait for 1 approval(s) from bob", plan, StringComparison.Ordinal);
        Assert.Contains("write: would run the custom code of step 'write'", plan, StringComparison.Ordinal);
        Assert.Contains("nap: would sleep 5m", plan, StringComparison.Ordinal);
        Assert.Contains($"healthy/poll#1/poll: would send GET {api.Url}/health", plan, StringComparison.Ordinal);
        var kinds = (await host.TimelineAsync(run)).Select(e => e.Kind).ToList();
        Assert.DoesNotContain("timer.started", kinds);
        Assert.DoesNotContain("wait.started", kinds);
    }

    [Fact]
    public async Task Verify_in_a_script_polls_until_the_effect_shows_or_fails_the_run_with_VerifyFailed()
    {
        var depth = 500;
        await using var api = new LocalHttpServer((req, _) =>
        {
            if (req.HttpMethod == "POST")
            {
                depth = 20;
            }

            return (200, $"{{\"depth\":{depth}}}", "application/json");
        });
        var script = $$"""
            /*---
            name: drain-queue
            ---*/
            await Http("drain", "{{api.Url}}/drain", method: "POST");
            await Verify("drained", () => Http("depth", "{{api.Url}}/depth"), r => r.Json!["depth"]!.GetValue<int>() < 100, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
            await Verify("empty", () => Http("depth", "{{api.Url}}/depth"), r => r.Json!["depth"]!.GetValue<int>() == 0, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(25));
            """;
        var run = await StartAsync(script);
        await host.DrainAsync();
        for (var i = 0; i < 3 && (await host.RunAsync(run)).Status == RunStatus.Waiting; i++)
        {
            host.Time.Advance(TimeSpan.FromSeconds(10));
            await host.DrainAsync();
        }

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, done.Status);
        Assert.Equal("VerifyFailed", done.ErrorKind);
        var timeline = await host.TimelineAsync(run);
        Assert.Equal("""{"step":"drained","polls":1}""", timeline.Single(e => e.Kind == "verify.passed").Data);
        var failed = JsonNode.Parse(timeline.Single(e => e.Kind == "verify.failed").Data!)!;
        Assert.Equal(("empty", 3), (failed["step"]!.GetValue<string>(), failed["polls"]!.GetValue<int>()));
        Assert.Equal(["drain", "drained/poll#1/depth", "empty/poll#1/depth", "empty/poll#2/depth", "empty/poll#3/depth"], (await host.HistoryAsync(run)).Steps.Where(s => s.Name == "drain" || s.Name.EndsWith("/depth", StringComparison.Ordinal)).Select(s => s.Name));
    }

    [Fact]
    public async Task A_script_undoes_what_it_did_when_a_later_step_fails_with_try_catch()
    {
        var script = """
            /*---
            name: undo
            ---*/
            await Log("scale-up", "scaled up");
            try
            {
                await Shell("migrate", "echo broken >&2; exit 2");
            }
            catch (RunbookEngine.Workflows.StepFailedException failed)
            {
                await Log("scale-down", $"undone after {failed.ErrorKind}");
                throw;
            }
            """;
        var run = await StartAsync(script);
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal((RunStatus.Failed, "ExitCode"), (done.Status, done.ErrorKind));
        Assert.Contains(host.Logs.Lines, l => l.Contains("undone after ExitCode", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_script_resumed_after_a_durable_sleep_replays_without_repeating_steps()
    {
        var log = Path.Combine(host.Directory, "log");
        var script = $$"""
            /*---
            name: resumable
            ---*/
            var first = await Step("first", () => Now.ToString("O"));
            await Shell("before", "echo before >> {{log}}");
            await Sleep("nap", TimeSpan.FromMinutes(5));
            await Shell("after", "echo after >> {{log}}");
            await Log("same", first == await Step("again", () => first) ? "replayed the same" : "differs");
            """;
        var run = await StartAsync(script);
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(run)).Status);

        host.Time.Advance(TimeSpan.FromMinutes(5));
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.Equal(["before", "after"], File.ReadAllLines(log));
        Assert.Contains(host.Logs.Lines, l => l.Contains("replayed the same", StringComparison.Ordinal));
    }

    private const string Gate = """
        /*---
        name: gated
        ---*/
        await Approval("approve", ["bob", "group:sre"], message: "go?", timeout: TimeSpan.FromMinutes(30));
        await Log("act", "approved");
        """;

    [Fact]
    public async Task Script_approvals_refuse_the_starter_and_non_approvers_and_a_group_member_approves()
    {
        var run = await StartAsync(Gate, actor: "user:alice");
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(run)).Status);

        await host.DecideAsync(run, "approve", "user:alice", "approve", "sre");
        await host.DecideAsync(run, "approve", "user:mallory", "approve");
        await host.DecideAsync(run, "approve", "user:carol", "approve", "sre");
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        var timeline = await host.TimelineAsync(run);
        var refusals = timeline.Where(e => e.Kind == "approval.refused").Select(e => e.Data!).ToList();
        Assert.Equal(2, refusals.Count);
        Assert.Contains("four-eyes", refusals[0], StringComparison.Ordinal);
        Assert.Contains("mallory is not an approver", refusals[1], StringComparison.Ordinal);
        Assert.Single(timeline, e => e.Kind == "approval.granted" && e.Data!.Contains("user:carol", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_rejected_script_approval_fails_the_run_and_stops_it_there()
    {
        var run = await StartAsync(Gate);
        await host.DrainAsync();
        await host.DecideAsync(run, "approve", "user:bob", "reject");
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, done.Status);
        Assert.Equal("Rejected", done.ErrorKind);
        Assert.DoesNotContain((await host.HistoryAsync(run)).Steps, s => s.Name == "act");
    }

    [Fact]
    public async Task An_exception_in_script_code_fails_the_run_naming_its_line_in_the_script()
    {
        var script = """
            /*---
            name: throws
            ---*/
            await Log("first", "ok");
            var items = new List<int>();

            throw new InvalidOperationException($"no items ({items.Count})");
            """;
        var run = await StartAsync(script);
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, done.Status);
        Assert.Equal("InvalidOperationException", done.ErrorKind);
        Assert.Equal("test.csx:7:1: no items (0)", done.ErrorMessage);
    }

    [Fact]
    public async Task Code_that_takes_another_path_on_replay_fails_with_the_kernels_non_determinism_error()
    {
        // A static field survives between executions in one process: the compile-time checks cannot see this.
        var script = """
            /*---
            name: drifting
            ---*/
            Drift.Count++;
            await Log(Drift.Count == 1 ? "first-path" : "second-path", "x");
            await Sleep("nap", TimeSpan.FromMinutes(1));

            static class Drift { public static int Count; }
            """;
        var run = await StartAsync(script);
        await host.DrainAsync();
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, done.Status);
        Assert.Equal("NonDeterminism", done.ErrorKind);
        Assert.Contains("first-path", done.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("second-path", done.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_input_of_a_script_reaches_the_action_only_and_never_the_database_or_the_logs()
    {
        const string Secret = "csx-s3cr3t-Value-9183";
        Environment.SetEnvironmentVariable("RB_TEST_CSX_TOKEN", Secret);
        var script = """
            /*---
            name: uses-secret
            inputs:
              token: { type: string, secret: true, required: true }
            outputs:
              echoed: what the command printed
              reference: what the script sees of the input
            ---*/
            var token = Input<string>("token");
            var echo = await Shell("echo", "echo token=$TOKEN", env: new Dictionary<string, string> { ["TOKEN"] = token });
            await Log("say", $"using {token}");
            Output("echoed", echo.Stdout.Trim());
            Output("reference", token);
            """;
        var run = await StartAsync(script, new JsonObject { ["token"] = "secret://env/RB_TEST_CSX_TOKEN" });
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.True(done.Status == RunStatus.Completed, done.ErrorMessage);
        Assert.Equal("""{"echoed":"token=***","reference":"secret://env/RB_TEST_CSX_TOKEN"}""", done.Output);
        await host.AssertNeverStoredOrLoggedAsync(Secret, "the secret");
    }

    [Fact]
    public void A_script_with_bad_action_inputs_fails_the_step_with_the_actions_own_words()
    {
        var problem = ActionInputs.Problem(new HttpAction(), new JsonObject { ["url"] = "http://127.0.0.1:1/", ["methd"] = "GET" });
        Assert.Equal("action 'http' has no input 'methd' (did you mean 'method'?); it takes url, method, headers, body, expect_status", problem);
        Assert.Equal("action 'http' needs 'url' (The absolute http or https URL.)", ActionInputs.Problem(new HttpAction(), []));
        Assert.Equal("input 'method' of action 'http' must be one of GET, HEAD, POST, PUT, PATCH, DELETE (got 'FETCH')", ActionInputs.Problem(new HttpAction(), new JsonObject { ["url"] = "x", ["method"] = "FETCH" }));
    }
}

/// <summary>
/// The script cache's compile counter is one per process: this class runs alone (after the parallel ones), so no
/// other test's script is compiled while it counts. It failed once in a full run before, counting a neighbour's.
/// </summary>
[CollectionDefinition(nameof(ScriptCacheTests), DisableParallelization = true)]
public sealed class ScriptCacheCollection;

[Collection(nameof(ScriptCacheTests))]
public sealed class ScriptCacheTests : IAsyncLifetime
{
    private RunbookTestHost host = null!;

    public async Task InitializeAsync() => host = await RunbookTestHost.CreateAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task A_compiled_script_is_loaded_from_the_disk_cache_after_a_restart_and_recompiled_when_its_text_changes()
    {
        var unique = Guid.NewGuid().ToString("N");
        var script = $"/*---\nname: cached\n---*/\nawait Log(\"hello\", \"{unique}\");\n";

        var before = ScriptCache.Compilations;
        Assert.NotNull(host.Parse(script, "cached.csx"));
        Assert.Equal(before + 1, ScriptCache.Compilations);
        Assert.Single(Directory.GetFiles(ScriptCache.CurrentDirectory, "*.dll"), f => File.ReadAllBytes(f).AsSpan().IndexOf(Encoding.Unicode.GetBytes(unique)) >= 0);

        ScriptCache.ClearMemory(); // as a restarted worker
        Assert.NotNull(host.Parse(script, "cached.csx"));
        var run = await host.StartAsync(script, file: "cached.csx");
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.Equal(before + 1, ScriptCache.Compilations);

        Assert.NotNull(host.Parse(script + "// changed\n", "cached.csx"));
        Assert.Equal(before + 2, ScriptCache.Compilations);
    }
}
