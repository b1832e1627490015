using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace RunbookEngine.Cli.Tests;

/// <summary><c>runbook drill run</c> and <c>runbook validate</c> on drill files, in process.</summary>
public sealed class DrillCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public DrillCliTests()
    {
        cli.UseExamples();
        var drills = Path.Combine(cli.Directory, "drills");
        Directory.CreateDirectory(drills);
        foreach (var f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "drills")))
        {
            File.Copy(f, Path.Combine(drills, Path.GetFileName(f)));
        }

        Drills = drills;
    }

    private string Drills { get; }

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task The_example_drills_pass_and_validate()
    {
        var count = Directory.GetFiles(Drills, "*.drill.yaml").Length;
        Assert.True(count >= 12, $"the example drills were not copied: {count}");
        var (code, output, err) = await cli.InvokeAsync("alice", "drill", "run", Drills);
        Assert.True(code == 0, err + output);
        Assert.Contains($"{count} of {count} drill(s) passed", output, StringComparison.Ordinal);
        Assert.Contains("drill checkout-replicas-mismatch", output, StringComparison.Ordinal);
        Assert.Contains("MTTD 1m30s, MTTR 5m35s (completed)", output, StringComparison.Ordinal);

        (code, output, err) = await cli.InvokeAsync("alice", "validate", Drills);
        Assert.True(code == 0, err + output);
        Assert.Contains($"{count} drill(s) valid", output, StringComparison.Ordinal);

        (code, output, err) = await cli.InvokeAsync("alice", "drill", "run", Path.Combine(Drills, "deploy-rollback.drill.yaml"), "--output", "json");
        Assert.True(code == 0, err + output);
        var result = JsonNode.Parse(output)!.AsArray().Single()!;
        Assert.True(result["passed"]!.GetValue<bool>());
        Assert.Equal("completed", result["status"]!.GetValue<string>());
        Assert.Contains(result["calls"]!.AsArray(), c => c!["step"]!.GetValue<string>() == "rollback" && c["with"]!["headers"]!["Authorization"]!.GetValue<string>() == "Bearer secret://env/DEPLOY_TOKEN");
    }

    [Fact]
    public async Task A_broken_drill_file_is_exit_2_with_file_line_col_and_nothing_runs()
    {
        var broken = Path.Combine(Drills, "broken.drill.yaml");
        await File.WriteAllTextAsync(broken, "drill: broken\nrunbook: disk-full-cleanup\nrun: { inputs: { path: /var/log } }\nsteps:\n  meassure: { respond: {} }\nexpect: { outcome: completed }\n");
        await File.WriteAllTextAsync(Path.Combine(Drills, "bad-outcome.drill.yaml"), "drill: bad\nrunbook: disk-full-cleanup\nrun: { inputs: { path: /var/log } }\nexpect: { outcome: done }\n");

        var (code, output, err) = await cli.InvokeAsync("alice", "drill", "run", Drills);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("broken.drill.yaml:5:3: steps: 'meassure': runbook 'disk-full-cleanup' has no step 'meassure' (did you mean 'measure'?)", err, StringComparison.Ordinal);
        Assert.Contains("bad-outcome.drill.yaml:4:20: 'outcome' must be completed, failed, cancelled, blocked", err, StringComparison.Ordinal);
        Assert.Contains($"2 of {Directory.GetFiles(Drills, "*.drill.yaml").Length} drill(s) invalid; none was run", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", err, StringComparison.Ordinal);

        (code, _, err) = await cli.InvokeAsync("alice", "validate", broken);
        Assert.Equal(2, code);
        Assert.Contains("broken.drill.yaml:5:3:", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_runbook_edited_so_a_step_no_longer_runs_fails_the_drill_in_every_report_format()
    {
        var runbook = Path.Combine(cli.RunbooksDir, "disk-full-cleanup.yaml");
        var edited = Path.Combine(cli.Directory, "edited.yaml");
        await File.WriteAllTextAsync(edited, (await File.ReadAllTextAsync(runbook)).Replace("- id: verify\n    action: shell", "- id: verify\n    when: \"${{ false }}\"\n    action: shell", StringComparison.Ordinal));
        var drill = Path.Combine(Drills, "disk-full-cleanup.drill.yaml");

        var (code, output, err) = await cli.InvokeAsync("alice", "drill", "run", drill, "--runbook", edited);
        Assert.True(code == 1, err + output);
        Assert.Contains("FAIL  steps_run: verify: skipped (its when: was false) (expected runs; ", output, StringComparison.Ordinal);

        var xml = Path.Combine(cli.Directory, "results.xml");
        (code, _, err) = await cli.InvokeAsync("alice", "drill", "run", drill, "--runbook", edited, "--report", "junit", "--out", xml);
        Assert.Equal(1, code);
        Assert.Contains($"report written to {xml}", err, StringComparison.Ordinal);
        var suite = XDocument.Load(xml).Root!.Element("testsuite")!;
        Assert.Equal("1", suite.Attribute("tests")!.Value);
        Assert.Equal("1", suite.Attribute("failures")!.Value);
        var failure = Assert.Single(suite.Descendants("failure"));
        Assert.Equal("steps_run: verify: expected runs, got skipped (its when: was false)", failure.Attribute("message")!.Value);

        (code, output, _) = await cli.InvokeAsync("alice", "drill", "run", drill, "--runbook", edited, "--report", "md");
        Assert.Equal(1, code);
        Assert.StartsWith("# Drill report\n\n0 of 1 drill(s) passed.", output, StringComparison.Ordinal);
        Assert.Contains("| steps_run: verify | **FAIL** | runs | skipped (its when: was false) |", output, StringComparison.Ordinal);
        Assert.Contains("| T+3m | approval.granted | approve | worker:drill | by user:bob: old logs, fine to delete |", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_drill_run_is_kept_with_who_ran_it_listed_newest_first_and_shown_again()
    {
        var (code, output, err) = await cli.InvokeAsync("alice", "drill", "list");
        Assert.True(code == 0, err);
        Assert.Contains("no drill reports yet: `runbook drill run drills/`", output, StringComparison.Ordinal);

        var good = Path.Combine(Drills, "disk-full-cleanup.drill.yaml");
        var edited = Path.Combine(cli.Directory, "edited.yaml");
        await File.WriteAllTextAsync(edited, (await File.ReadAllTextAsync(Path.Combine(cli.RunbooksDir, "disk-full-cleanup.yaml"))).Replace("- id: verify\n    action: shell", "- id: verify\n    when: \"${{ false }}\"\n    action: shell", StringComparison.Ordinal));
        (code, _, err) = await cli.InvokeAsync("alice", "drill", "run", good);
        Assert.Equal(0, code);
        Assert.Contains("report kept as drill report 1 in ", err, StringComparison.Ordinal);
        (code, _, err) = await cli.InvokeAsync("bob", "drill", "run", good, "--runbook", edited);
        Assert.Equal(1, code);
        Assert.Contains("report kept as drill report 2", err, StringComparison.Ordinal);
        (code, _, err) = await cli.InvokeAsync("bob", "drill", "run", good, "--no-store");
        Assert.Equal(0, code);
        Assert.DoesNotContain("kept", err, StringComparison.Ordinal);

        (code, output, err) = await cli.InvokeAsync("alice", "drill", "list");
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^2 .* disk-full-on-web-1 +disk-full-cleanup +FAILED \(steps_run: verify\) +completed .* user:bob +replay$", lines[1]);
        Assert.Matches(@"^1 .* disk-full-on-web-1 +disk-full-cleanup +passed +completed .* user:alice +replay$", lines[2]);

        (code, output, _) = await cli.InvokeAsync("alice", "drill", "list", "--failed", "--output", "json");
        Assert.Equal(0, code);
        var failed = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(2, failed["id"]!.GetValue<long>());
        Assert.Equal(["steps_run: verify"], failed["failed"]!.AsArray().Select(f => f!.GetValue<string>()));
        (code, output, _) = await cli.InvokeAsync("alice", "drill", "list", "--drill", "no-such-drill");
        Assert.Equal((0, "no drill reports match\n"), (code, output));

        (code, output, err) = await cli.InvokeAsync("alice", "drill", "show", "2");
        Assert.True(code == 0, err);
        Assert.StartsWith("drill report 2, run ", output, StringComparison.Ordinal);
        Assert.Contains("by user:bob (replay):\ndrill disk-full-on-web-1 (", output, StringComparison.Ordinal);
        Assert.Contains("FAIL  steps_run: verify: skipped (its when: was false)", output, StringComparison.Ordinal);
        (code, output, _) = await cli.InvokeAsync("alice", "drill", "show", "2", "--report", "md");
        Assert.Equal(0, code);
        Assert.Contains("| T+3m | approval.granted | approve | worker:drill | by user:bob: old logs, fine to delete |", output, StringComparison.Ordinal);
        (code, output, _) = await cli.InvokeAsync("alice", "drill", "show", "1", "--report", "junit");
        Assert.Equal(0, code);
        Assert.Equal("0", XDocument.Parse(output).Root!.Element("testsuite")!.Attribute("failures")!.Value);

        (code, _, err) = await cli.InvokeAsync("alice", "drill", "show", "7");
        Assert.Equal(2, code);
        Assert.Contains("no drill report 7; `runbook drill list` lists them", err, StringComparison.Ordinal);
        (code, _, err) = await cli.InvokeAsync("alice", "drill", "show", "seven");
        Assert.Equal(2, code);
        Assert.Contains("seven", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_that_cannot_keep_the_reports_is_a_warning_and_the_verdict_stands()
    {
        // The store path is a directory: it cannot be opened as a database.
        Directory.CreateDirectory(Path.Combine(cli.Directory, "not-a-db"));
        var (code, output, err) = await cli.InvokeAsync("alice", "--store", Path.Combine(cli.Directory, "not-a-db"), "drill", "run", Path.Combine(Drills, "disk-full-cleanup.drill.yaml"));
        Assert.True(code == 0, err + output);
        Assert.Contains("pass  outcome: completed", output, StringComparison.Ordinal);
        Assert.Contains("warning: the drill reports were not kept: ", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_usage_is_a_clear_error()
    {
        var (code, _, err) = await cli.InvokeAsync("alice", "drill", "run", Path.Combine(cli.Directory, "nowhere"));
        Assert.Equal(2, code);
        Assert.Contains("nowhere: no such file or directory", err, StringComparison.Ordinal);

        (code, _, err) = await cli.InvokeAsync("alice", "drill", "run", Drills, "--report", "pdf");
        Assert.Equal(2, code);
        Assert.Contains("pdf", err, StringComparison.Ordinal);

        (code, _, err) = await cli.InvokeAsync("alice", "drill");
        Assert.Equal(2, code);
        Assert.Contains("runbook drill run drills/", err, StringComparison.Ordinal);
    }
}

/// <summary><c>runbook drill record</c> from a run made by <c>runbook run</c>, then replayed.</summary>
public sealed class DrillRecordCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task A_run_recorded_as_a_drill_replays_and_the_file_is_not_overwritten_by_accident()
    {
        cli.Write("echo-twice.yaml", """
            name: echo-twice
            inputs:
              word: { type: string, default: hello }
            steps:
              - id: first
                action: shell
                with: { command: [echo, "${{ inputs.word }}"] }
              - id: second
                action: shell
                with: { command: [echo, "${{ steps.first.outputs.said }} again"] }
                when: "${{ inputs.word != 'skip' }}"
            """.Replace("steps:\n  - id: first\n    action: shell\n    with: { command: [echo, \"${{ inputs.word }}\"] }\n", "steps:\n  - id: first\n    action: shell\n    with: { command: [echo, \"${{ inputs.word }}\"] }\n    outputs: { said: \"${{ result.stdout | trim }}\" }\n", StringComparison.Ordinal));
        var (code, output, err) = await cli.InvokeAsync("alice", "run", "echo-twice", "-p", "word=hi", "--output", "json");
        Assert.True(code == 0, err + output);
        var runId = System.Text.Json.Nodes.JsonNode.Parse(output)!["run_id"]!.GetValue<string>();
        var drill = Path.Combine(cli.Directory, "drills", "echo.drill.yaml");

        (code, output, err) = await cli.InvokeAsync("alice", "drill", "record", runId, "-o", drill);
        Assert.True(code == 0, err + output);
        Assert.Contains($"recorded run {runId} (2 call(s), 0 approval decision(s), started by user:alice) to {drill}", output, StringComparison.Ordinal);
        var yaml = await File.ReadAllTextAsync(drill);
        Assert.Contains("runbook: \"../runbooks/echo-twice.yaml\"", yaml, StringComparison.Ordinal);
        Assert.Contains("- { step: second, action: shell, with: {\"command\":[\"echo\",\"hi again\"]} }", yaml, StringComparison.Ordinal);

        (code, output, err) = await cli.InvokeAsync("alice", "drill", "run", drill);
        Assert.True(code == 0, err + output);
        Assert.Contains("pass  calls: 2 call(s) as recorded", output, StringComparison.Ordinal);

        (code, _, err) = await cli.InvokeAsync("alice", "drill", "record", runId, "-o", drill);
        Assert.Equal(2, code);
        Assert.Contains("exists; pass --force to overwrite it", err, StringComparison.Ordinal);

        (code, _, err) = await cli.InvokeAsync("alice", "drill", "record", "run_00000000000000000000000000000000", "-o", Path.Combine(cli.Directory, "x.drill.yaml"));
        Assert.NotEqual(0, code);
        Assert.Contains("run_00000000000000000000000000000000", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", err, StringComparison.Ordinal);
    }
}
