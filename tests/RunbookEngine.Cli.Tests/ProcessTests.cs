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
}
