using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RunbookEngine.Cli.Tests;

/// <summary>The CLI as users run it: a real process with real exit codes, output and signals.</summary>
public sealed class ProcessTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Json_output_and_exit_codes_from_a_real_process()
    {
        cli.Write("hello.yaml", "name: hello\nsteps:\n  - id: say\n    action: log\n    with: { message: hi }\n");
        var (code, output, err) = await cli.RunProcessAsync("alice", string.Empty, "run", "hello", "-o", "json");
        Assert.True(code == 0, err);
        Assert.Equal("completed", JsonNode.Parse(output)!["status"]!.GetValue<string>());

        var (invalid, _, invalidErr) = await cli.RunProcessAsync("alice", string.Empty, "run", "hello", "-p", "nope=1");
        Assert.Equal(2, invalid);
        Assert.Contains("runbook 'hello' has no input 'nope'", invalidErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_string_command_runs_through_pwsh_when_the_worker_has_it_and_fails_clearly_when_it_does_not()
    {
        cli.Write("ps.yaml", """
            name: ps
            steps:
              - id: restart
                action: shell
                with: { command: "Get-Service nginx | Restart-Service", shell: pwsh }
                outputs: { said: "${{ result.stdout }}" }
            outputs: { said: "${{ steps.restart.outputs.said }}" }
            """);

        // A stand-in pwsh on the worker's PATH (PowerShell is not packaged for Debian): it prints what it was given.
        var bin = Path.Combine(cli.Directory, "fake-bin");
        Directory.CreateDirectory(bin);
        var pwsh = Path.Combine(bin, "pwsh");
        await File.WriteAllTextAsync(pwsh, "#!/bin/bash\nprintf '[%s]' \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(pwsh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var (code, output, err) = await cli.RunProcessAsync("alice", string.Empty, new Dictionary<string, string> { ["PATH"] = $"{bin}:/usr/bin:/bin" }, "run", "ps", "-o", "json");
        Assert.True(code == 0, err + output);
        Assert.Equal("[-NoLogo][-NoProfile][-NonInteractive][-Command][Get-Service nginx | Restart-Service]", (string)JsonNode.Parse(output)!["output"]!["said"]!);

        var (missing, missingOut, _) = await cli.RunProcessAsync("alice", string.Empty, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, "run", "ps", "-o", "json");
        Assert.Equal(1, missing);
        var run = JsonNode.Parse(missingOut)!;
        Assert.Equal(("failed", "ShellNotFound"), ((string)run["status"]!, (string)run["error_kind"]!));
        Assert.Contains("needs PowerShell 7 (pwsh) on the worker's PATH", (string)run["error"]!, StringComparison.Ordinal);

        var (planned, plan, planErr) = await cli.RunProcessAsync("alice", string.Empty, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, "run", "ps", "--dry-run");
        Assert.True(planned == 0, planErr);
        Assert.Contains("with pwsh, which this worker does not have: the step would fail", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_c_drains_a_worker_and_it_exits_cleanly()
    {
        using var worker = cli.Start("ops", string.Empty, "worker");
        var started = await worker.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.StartsWith("worker ", started, StringComparison.Ordinal);

        using (var kill = Process.Start("kill", ["-INT", worker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        var rest = await worker.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, worker.ExitCode);
        Assert.Contains("stopped", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_lets_a_worker_finish_a_step_longer_than_two_seconds_and_record_it()
    {
        // The step waits on a pipe the test holds: it is in flight when the signal arrives, and ends when told.
        var fifo = await cli.FifoAsync("step.fifo");

        cli.Write("slow.yaml", $$$"""
            name: slow
            steps:
              - id: wait
                action: shell
                with: { command: 'read line < "{{{fifo}}}"; echo "$line"' }
                outputs: { said: "${{ result.stdout }}" }
            outputs: { said: "${{ steps.wait.outputs.said }}" }
            """);
        using var worker = cli.Start("ops", string.Empty, "worker");
        Assert.StartsWith("worker ", await worker.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)), StringComparison.Ordinal);
        var (started, runId, startErr) = await cli.RunProcessAsync("ops", string.Empty, "run", "slow", "--detach");
        Assert.True(started == 0, startErr);

        // Opening the pipe for writing returns once the step has opened it for reading.
        await using var pipe = await CliFixture.OpenForWritingAsync(fifo);
        using (var kill = Process.Start("kill", ["-TERM", worker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        // Still draining past System.CommandLine's two-second default, which used to end the process here.
        await Assert.ThrowsAsync<TimeoutException>(() => worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(3)));
        await pipe.WriteAsync("finished\n"u8.ToArray());
        await pipe.DisposeAsync();

        var rest = await worker.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, worker.ExitCode);
        Assert.Contains("stopped", rest, StringComparison.Ordinal);
        var (code, status, err) = await cli.RunProcessAsync("ops", string.Empty, "status", runId.Trim(), "-o", "json");
        Assert.True(code == 0, err);
        var step = JsonNode.Parse(status)!["steps"]!.AsArray().Single(s => (string)s!["name"]! == "wait")!;
        Assert.Equal("completed", (string)step["status"]!);
    }

    [Fact]
    public async Task Serve_prints_one_banner_on_stdout_and_its_logs_as_json_lines_on_stderr()
    {
        using var server = cli.Start("ops", string.Empty, "serve", "--urls", "http://127.0.0.1:0", "--log-format", "json");
        var banner = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Matches(@"^serving on http://127\.0\.0\.1:\d+ with ", banner);
        var logs = new List<JsonNode>();
        while (logs.Count < 2 && await server.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
        {
            if (line.StartsWith('{'))
            {
                logs.Add(JsonNode.Parse(line)!); // every log line is one JSON object
            }
        }

        Assert.All(logs, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", l["Timestamp"]!.GetValue<string>()));
        Assert.Contains(logs, l => l["LogLevel"]!.GetValue<string>() == "Information" && l["Category"]!.GetValue<string>().StartsWith("RunbookEngine.", StringComparison.Ordinal));
        using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        var rest = await server.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("server stopped\n", rest); // nothing but the command's own words on stdout

        var (code, _, err) = await cli.RunProcessAsync("ops", string.Empty, new Dictionary<string, string> { ["RUNBOOK_LOG"] = "loud" }, "runs");
        Assert.Equal(2, code);
        Assert.Contains("RUNBOOK_LOG 'loud' must be Trace, Debug, Information, Warning, Error, Critical or None", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_answers_on_loopback_and_sigterm_stops_it_cleanly()
    {
        cli.Write("hello.yaml", "name: hello\nsteps:\n  - id: say\n    action: log\n    with: { message: hi }\n");
        var (created, token, createErr) = await cli.RunProcessAsync("ops", string.Empty, "token", "create", "ops", "--role", "operator", "--tokens", Path.Combine(cli.Directory, "tokens.yaml"));
        Assert.True(created == 0, createErr);
        using var server = cli.Start("ops", string.Empty, "serve", "--urls", "http://127.0.0.1:0", "--tokens", Path.Combine(cli.Directory, "tokens.yaml"));
        var banner = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var url = System.Text.RegularExpressions.Regex.Match(banner ?? string.Empty, @"http://127\.0\.0\.1:\d+").Value;
        Assert.True(url.Length > 0, banner);

        // A run started and followed through the real server process, as a remote user would.
        var (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token.Trim(), "run", "hello", "-o", "json");
        Assert.True(code == 0, err);
        Assert.Equal("user:ops", JsonNode.Parse(output)!["started_by"]!.GetValue<string>());

        // A drill replayed here is kept by the server, with the token's identity, and listed from it.
        await File.WriteAllTextAsync(Path.Combine(cli.Directory, "hello.drill.yaml"), "drill: hello-drill\nrunbook: hello\nrun: {}\nactions:\n  log: { respond: {} }\nexpect: { outcome: completed }\n");
        (code, _, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token.Trim(), "drill", "run", Path.Combine(cli.Directory, "hello.drill.yaml"));
        Assert.True(code == 0, err);
        Assert.Contains($"report kept as drill report 1 in {url}", err, StringComparison.Ordinal);
        (code, output, err) = await cli.RunProcessAsync("ignored", string.Empty, "--server", url, "--token", token.Trim(), "drill", "list", "-o", "json");
        Assert.True(code == 0, err);
        var kept = Assert.Single(JsonNode.Parse(output)!.AsArray())!;
        Assert.Equal(("hello-drill", "user:ops", true), (kept["drill"]!.GetValue<string>(), kept["by"]!.GetValue<string>(), kept["passed"]!.GetValue<bool>()));

        using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        var rest = await server.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, server.ExitCode);
        Assert.Contains("server stopped", rest, StringComparison.Ordinal);
    }
}
