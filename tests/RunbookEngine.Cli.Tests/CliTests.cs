using System.Text.Json.Nodes;

namespace RunbookEngine.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private const string Touch = """
        name: touch
        description: Create a marker file.
        inputs:
          file: { type: string, required: true }
        steps:
          - id: touch
            action: shell
            with: { command: [touch, "${{ inputs.file }}"] }
            outputs:
              code: "${{ result.exit_code }}"
        outputs:
          code: "${{ steps.touch.outputs.code }}"
        """;

    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Validate_exits_0_for_valid_runbooks_and_2_with_file_line_col_for_broken_ones()
    {
        cli.Write("touch.yaml", Touch);
        var (ok, okOut, _) = await cli.InvokeAsync("alice", "validate");
        Assert.Equal(0, ok);
        Assert.Contains("1 runbook(s) valid", okOut, StringComparison.Ordinal);

        var broken = cli.Write("broken.yaml", "name: broken\nsteps:\n  - id: a\n    action: shel\n");
        var (bad, _, err) = await cli.InvokeAsync("alice", "validate", broken);
        Assert.Equal(2, bad);
        Assert.Contains("broken.yaml:4:13: step 'a': unknown action 'shel' (did you mean 'shell'?)", err, StringComparison.Ordinal);

        var (_, json, _) = await cli.InvokeAsync("alice", "validate", cli.RunbooksDir, "-o", "json");
        var entries = JsonNode.Parse(json)!.AsArray();
        Assert.Equal(2, entries.Count);
        var problem = entries.Single(e => e!["valid"]!.GetValue<bool>() == false)!["problems"]![0]!;
        Assert.Equal(4, problem["line"]!.GetValue<int>());
        Assert.Equal(13, problem["column"]!.GetValue<int>());
    }

    [Fact]
    public async Task Validate_parses_powershell_scripts_beside_a_runbook_and_exits_2_at_the_scripts_line_and_column()
    {
        Directory.CreateDirectory(Path.Combine(cli.RunbooksDir, "scripts"));
        File.WriteAllText(Path.Combine(cli.RunbooksDir, "scripts", "fix.ps1"), "param($Name)\nif ($Name {\n}\n");
        var runbook = cli.Write("ps.yaml", "name: ps\nsteps:\n  - id: fix\n    action: powershell\n    with: { file: scripts/fix.ps1, parameters: { Name: web-1 } }\n");

        var (code, _, err) = await cli.InvokeAsync("alice", "validate", runbook);

        Assert.Equal(2, code);
        Assert.Contains($"{Path.Combine(cli.RunbooksDir, "scripts", "fix.ps1")}:2:11: step 'fix': 'file': PowerShell syntax error: Unexpected token '{{' in expression or statement.", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_flag_gets_a_one_line_error_the_usage_and_exit_2()
    {
        var (code, _, err) = await cli.InvokeAsync("alice", "run", "touch", "--no-such-flag");
        Assert.Equal(2, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("runbook: Unrecognized command or argument '--no-such-flag'", lines[0], StringComparison.Ordinal);
        Assert.Equal("usage: runbook run <runbook> [options]", lines[1].TrimEnd());
    }

    [Fact]
    public async Task Run_executes_follows_and_returns_outputs_in_json()
    {
        cli.Write("touch.yaml", Touch);
        var marker = Path.Combine(cli.Directory, "marker");
        var (code, json, err) = await cli.InvokeAsync("alice", "run", "touch", "-p", $"file={marker}", "-o", "json");

        Assert.True(code == 0, err);
        var run = JsonNode.Parse(json)!;
        Assert.Equal("completed", run["status"]!.GetValue<string>());
        Assert.Equal(0, run["output"]!["code"]!.GetValue<int>());
        Assert.Equal("user:alice", run["started_by"]!.GetValue<string>());
        Assert.Contains(run["timeline"]!.AsArray(), e => e!["kind"]!.GetValue<string>() == "run.completed");
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public async Task Run_with_a_missing_input_exits_2_naming_the_declaration()
    {
        var file = cli.Write("touch.yaml", Touch);
        var (code, _, err) = await cli.InvokeAsync("alice", "run", file);
        Assert.Equal(2, code);
        Assert.Contains("touch.yaml:4:3: missing required input 'file'", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_run_exits_1_and_status_and_timeline_explain_it()
    {
        cli.Write("fail.yaml", "name: fail\nsteps:\n  - id: boom\n    action: shell\n    with: { command: [bash, -c, 'echo disk gone >&2; exit 4'] }\n");
        var (code, output, _) = await cli.InvokeAsync("alice", "run", "fail");
        Assert.Equal(1, code);
        Assert.Contains("failed: ExitCode", output, StringComparison.Ordinal);

        var (_, runs, _) = await cli.InvokeAsync("alice", "runs", "--status", "failed", "-o", "json");
        var id = JsonNode.Parse(runs)![0]!["run_id"]!.GetValue<string>();
        var (_, status, _) = await cli.InvokeAsync("alice", "status", id);
        Assert.Contains("ExitCode: `bash -c 'echo disk gone >&2; exit 4'` exited with code 4: disk gone", status, StringComparison.Ordinal);
        var (chain, md, _) = await cli.InvokeAsync("alice", "timeline", id, "--format", "md");
        Assert.Equal(0, chain);
        Assert.Contains("| run.failed |", md, StringComparison.Ordinal);
        Assert.Contains("hash chain intact", md, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timeline_shows_its_newest_events_or_some_kinds_with_the_chain_checked_over_all()
    {
        cli.Write("three.yaml", "name: three\nsteps:\n" + string.Concat(Enumerable.Range(1, 3).Select(i => $"  - id: s{i}\n    action: log\n    with: {{ message: \"step {i}\" }}\n")));
        Assert.Equal(0, (await cli.InvokeAsync("alice", "run", "three")).Code);
        var (_, runs, _) = await cli.InvokeAsync("alice", "runs", "-o", "json");
        var id = JsonNode.Parse(runs)![0]!["run_id"]!.GetValue<string>();
        var (_, whole, _) = await cli.InvokeAsync("alice", "timeline", id, "-o", "json");
        var all = JsonNode.Parse(whole)!["events"]!.AsArray().Select(e => (Seq: e!["seq"]!.GetValue<long>(), Kind: e["kind"]!.GetValue<string>())).ToList();
        Assert.Null(JsonNode.Parse(whole)!["earlier"]);

        var (code, newest, _) = await cli.InvokeAsync("alice", "timeline", id, "--last", "2", "-o", "json");
        Assert.Equal(0, code);
        Assert.Equal(all[^2..].Select(e => e.Seq), JsonNode.Parse(newest)!["events"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
        Assert.Equal(all.Count - 2, JsonNode.Parse(newest)!["earlier"]!.GetValue<int>());

        var (_, table, _) = await cli.InvokeAsync("alice", "timeline", id, "--kind", "step.", "--kind", "run.completed");
        var shown = all.Where(e => e.Kind.StartsWith("step.", StringComparison.Ordinal) || e.Kind == "run.completed").ToList();
        Assert.True(shown.Count >= 4 && shown.Count < all.Count, $"{shown.Count} of {all.Count}");
        Assert.Equal(shown.Count, table.Split('\n').Count(l => !l.StartsWith("hash chain", StringComparison.Ordinal) && (l.Contains(" step.", StringComparison.Ordinal) || l.Contains(" run.completed", StringComparison.Ordinal))));
        Assert.DoesNotContain("run.created", table, StringComparison.Ordinal);
        Assert.Contains($"hash chain intact ({all.Count} events); showing step., run.completed only", table, StringComparison.Ordinal);

        var (refused, _, error) = await cli.InvokeAsync("alice", "timeline", id, "--last", "0");
        Assert.Equal(2, refused);
        Assert.Contains("--last must be from 1 to 100000 (got 0)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_prints_the_plan_and_changes_nothing()
    {
        cli.Write("touch.yaml", Touch);
        var marker = Path.Combine(cli.Directory, "never");
        var (code, output, _) = await cli.InvokeAsync("alice", "run", "touch", "-p", $"file={marker}", "--dry-run");
        Assert.Equal(0, code);
        Assert.Contains("Plan (dry-run; nothing was changed):", output, StringComparison.Ordinal);
        Assert.Contains($"1. touch: would run: touch {marker}", output, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
        var (_, runs, _) = await cli.InvokeAsync("alice", "runs", "-o", "json");
        Assert.True(JsonNode.Parse(runs)![0]!["dry_run"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_detached_run_is_executed_by_a_worker_and_the_idempotency_key_returns_the_same_run()
    {
        cli.Write("touch.yaml", Touch);
        var marker = Path.Combine(cli.Directory, "by-worker");
        var (_, first, _) = await cli.InvokeAsync("alice", "run", "touch", "-p", $"file={marker}", "--detach", "--idempotency-key", "alert-1", "-o", "json");
        var (_, again, _) = await cli.InvokeAsync("alice", "run", "touch", "-p", $"file={marker}", "--detach", "--idempotency-key", "alert-1", "-o", "json");
        var id = JsonNode.Parse(first)!["run_id"]!.GetValue<string>();
        Assert.Equal(id, JsonNode.Parse(again)!["run_id"]!.GetValue<string>());
        Assert.False(JsonNode.Parse(again)!["created"]!.GetValue<bool>());
        Assert.False(File.Exists(marker));

        using var stop = new CancellationTokenSource();
        var worker = cli.InvokeAsync("worker-host", [], stop.Token, "worker", "--concurrency", "2");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(marker) && watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Yield();
        }

        await stop.CancelAsync();
        var (code, output, _) = await worker.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, code);
        Assert.Contains("stopped", output, StringComparison.Ordinal);
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public async Task Cancel_records_who_and_why_and_a_cancelled_run_cannot_be_cancelled_again()
    {
        cli.Write("gate.yaml", "name: gate\nsteps:\n  - id: ok\n    approval: { approvers: [bob] }\n");
        var (_, id, _) = await cli.InvokeAsync("alice", "run", "gate", "--detach");
        id = id.Trim();
        var (code, output, _) = await cli.InvokeAsync("carol", "cancel", id, "-m", "wrong host");
        Assert.Equal(0, code);
        Assert.Contains("requested by user:carol", output, StringComparison.Ordinal);
        var (_, timeline, _) = await cli.InvokeAsync("carol", "timeline", id);
        Assert.Contains("cancel requested by user:carol: wrong host", timeline, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_from_a_step_reuses_the_earlier_results_and_runs_the_rest()
    {
        var counter = Path.Combine(cli.Directory, "prepared");
        var flag = Path.Combine(cli.Directory, "ready");
        cli.Write("two.yaml", $$$"""
            name: two
            steps:
              - id: prepare
                action: shell
                with: { command: [bash, -c, "echo x >> {{{counter}}}; echo prepared-value"] }
                outputs:
                  value: "${{ result.stdout | trim }}"
              - id: finish
                action: shell
                with: { command: [test, -f, "{{{flag}}}"] }
            outputs:
              value: "${{ steps.prepare.outputs.value }}"
            """);
        var (first, _, _) = await cli.InvokeAsync("alice", "run", "two");
        Assert.Equal(1, first);
        var (_, runs, _) = await cli.InvokeAsync("alice", "runs", "-o", "json");
        var failedId = JsonNode.Parse(runs)![0]!["run_id"]!.GetValue<string>();

        await File.WriteAllTextAsync(flag, "now it exists");
        var (code, output, _) = await cli.InvokeAsync("bob", "retry", failedId, "--from-step", "finish");

        Assert.Equal(0, code);
        Assert.Contains($"prepare reused from run {failedId}", output, StringComparison.Ordinal);
        Assert.Contains("\"value\":\"prepared-value\"", output, StringComparison.Ordinal);
        Assert.Single(File.ReadAllLines(counter));
    }

    [Fact]
    public async Task Script_runbooks_are_listed_validated_and_run_like_yaml_ones_but_only_from_the_runbook_directories()
    {
        cli.Write("touch.csx", """
            /*---
            name: touch-script
            description: Create a marker file, from C#.
            inputs:
              file: { type: string, required: true }
            outputs:
              code: the exit code
            ---*/
            var touched = await Shell("touch", ["touch", Input<string>("file")]);
            Output("code", touched.ExitCode);
            """);
        var (listed, list, _) = await cli.InvokeAsync("alice", "list", "-o", "json");
        Assert.Equal(0, listed);
        var entry = JsonNode.Parse(list)!.AsArray().Single()!;
        Assert.Equal("touch-script", entry["name"]!.GetValue<string>());
        Assert.True(entry["valid"]!.GetValue<bool>());
        Assert.Equal("Create a marker file, from C#.", entry["description"]!.GetValue<string>());

        var marker = Path.Combine(cli.Directory, "marker");
        var (ran, output, err) = await cli.InvokeAsync("alice", "run", "touch-script", "-p", $"file={marker}", "-o", "json");
        Assert.True(ran == 0, err);
        Assert.Equal(0, JsonNode.Parse(output)!["output"]!["code"]!.GetValue<int>());
        Assert.True(File.Exists(marker));
        Assert.Null(entry["last_run"]);
        Assert.Empty(entry["triggers"]!.AsArray());
        var (_, relisted, _) = await cli.InvokeAsync("alice", "list", "-o", "json");
        var last = JsonNode.Parse(relisted)!.AsArray().Single()!["last_run"]!;
        Assert.Equal(("completed", "user:alice"), ((string)last["status"]!, (string)last["started_by"]!));
        Assert.Equal(JsonNode.Parse(output)!["run_id"]!.GetValue<string>(), (string)last["run_id"]!);
        var (_, table, _) = await cli.InvokeAsync("alice", "list");
        Assert.Contains("completed 20", table, StringComparison.Ordinal); // LAST RUN: status and time

        var broken = cli.Write("broken.csx", "/*---\nname: broken\n---*/\nvar when = DateTime.Now;\n");
        var (bad, _, problems) = await cli.InvokeAsync("alice", "validate", broken);
        Assert.Equal(2, bad);
        Assert.Contains("broken.csx:4:21: DateTime.Now breaks replay outside a step: use Now (the run's clock, the same on every replay)", problems, StringComparison.Ordinal);

        var outside = Path.Combine(cli.Directory, "elsewhere.csx");
        File.Copy(Path.Combine(cli.RunbooksDir, "touch.csx"), outside);
        var (refused, _, why) = await cli.InvokeAsync("alice", "run", outside, "-p", $"file={marker}");
        Assert.Equal(2, refused);
        Assert.Contains("script runbooks run only from there", why, StringComparison.Ordinal);
        var (validated, _, _) = await cli.InvokeAsync("alice", "validate", outside);
        Assert.Equal(0, validated); // checking a script compiles it but runs nothing
    }

    [Fact]
    public async Task Retry_of_a_script_run_from_a_step_reuses_the_earlier_results_and_runs_the_rest()
    {
        var counter = Path.Combine(cli.Directory, "prepared");
        var flag = Path.Combine(cli.Directory, "ready");
        cli.Write("two.csx", $$"""
            /*---
            name: two-script
            outputs:
              value: what prepare printed
            ---*/
            var prepared = await Shell("prepare", "echo x >> {{counter}}; echo prepared-value");
            await Shell("finish", ["test", "-f", "{{flag}}"]);
            Output("value", prepared.Stdout.Trim());
            """);
        var (first, _, _) = await cli.InvokeAsync("alice", "run", "two-script");
        Assert.Equal(1, first);
        var (_, runs, _) = await cli.InvokeAsync("alice", "runs", "-o", "json");
        var failedId = JsonNode.Parse(runs)![0]!["run_id"]!.GetValue<string>();

        var (wrong, _, hint) = await cli.InvokeAsync("bob", "retry", failedId, "--from-step", "finsh");
        Assert.Equal(2, wrong);
        Assert.Contains("never reached a step 'finsh'; its steps: prepare, finish", hint, StringComparison.Ordinal);

        await File.WriteAllTextAsync(flag, "now it exists");
        var (code, output, err) = await cli.InvokeAsync("bob", "retry", failedId, "--from-step", "finish");

        Assert.True(code == 0, err + output);
        Assert.Contains($"prepare reused from run {failedId}", output, StringComparison.Ordinal);
        Assert.Contains("\"value\":\"prepared-value\"", output, StringComparison.Ordinal);
        Assert.Single(File.ReadAllLines(counter));
    }

    [Fact]
    public async Task Unknown_runs_and_runbooks_exit_2_with_a_hint()
    {
        cli.Write("touch.yaml", Touch);
        var (a, _, errA) = await cli.InvokeAsync("alice", "status", "run_nope");
        Assert.Equal(2, a);
        Assert.Contains("no run 'run_nope'", errA, StringComparison.Ordinal);
        var (b, _, errB) = await cli.InvokeAsync("alice", "run", "tuch");
        Assert.Equal(2, b);
        Assert.Contains("did you mean 'touch'?", errB, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupt_store_is_a_clear_error_not_a_stack_trace()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(cli.StorePath)!);
        await File.WriteAllTextAsync(cli.StorePath, new string('#', 4096));
        var (code, _, err) = await cli.InvokeAsync("alice", "runs");
        Assert.Equal(1, code);
        Assert.Contains("is corrupt or is not a RunbookEngine SQLite database", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_matches_the_snapshot_and_every_command_shows_an_example()
    {
        var (_, help, _) = await cli.InvokeAsync("alice", "--help");
        var snapshot = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Snapshots", "help.txt"));
        Assert.Equal(snapshot.ReplaceLineEndings("\n").TrimEnd(), help.ReplaceLineEndings("\n").TrimEnd());
        foreach (var command in new[] { "validate", "list", "run", "runs", "status", "timeline", "approve", "reject", "cancel", "retry", "guards", "alerts", "worker", "serve", "token", "schema", "drill" })
        {
            var (code, text, _) = await cli.InvokeAsync("alice", command, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Example", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Schema_prints_the_checked_in_runbook_schema()
    {
        var (code, output, _) = await cli.InvokeAsync("alice", "schema");

        Assert.Equal(0, code);
        var root = System.IO.Path.Combine(CliFixture.ExamplesDir, "..", "schema", "runbook.schema.json");
        Assert.Equal("RunbookEngine runbook", JsonNode.Parse(output)!["title"]!.GetValue<string>());
        Assert.Equal(await File.ReadAllTextAsync(root), output);
    }

    [Fact]
    public async Task Serve_refuses_a_broken_server_configuration_with_where_and_why_before_opening_anything()
    {
        var config = Path.Combine(cli.Directory, "server.yaml");
        await File.WriteAllTextAsync(config, "sources:\n  grafana:\n    auth: { bearer: hunter2-plain }\n");
        var (code, output, error) = await cli.InvokeAsync("alice", "serve", "--config", config, "--urls", "http://127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Equal($"runbook: {config}:3:21: grafana: auth.bearer must be a secret reference (secret://env/NAME or secret://file/PATH), not the secret itself", error.Trim());
        Assert.Equal(string.Empty, output);
        Assert.False(File.Exists(cli.StorePath));
    }
}
