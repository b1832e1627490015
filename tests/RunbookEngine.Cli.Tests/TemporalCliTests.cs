using System.Net;
using System.Net.Sockets;

namespace RunbookEngine.Cli.Tests;

/// <summary>
/// `--engine temporal` when Temporal is not there or not right: one line naming what failed, exit 1, within the
/// 10 s connect deadline, nothing created on disk. (With a reachable server, the live suite runs the commands.)
/// </summary>
public sealed class TemporalCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Theory]
    [InlineData("runs")]
    [InlineData("status", "run_x")]
    [InlineData("worker")]
    [InlineData("run", "touch", "--detach")]
    public async Task A_refused_connection_is_one_line_naming_the_address_and_exit_1(params string[] command)
    {
        cli.Write("touch.yaml", "name: touch\nsteps:\n  - id: t\n    action: log\n    with: { message: hi }\n");
        var port = ClosedPort();

        var (code, _, err) = await cli.InvokeAsync("alice", [.. command, "--engine", "temporal", "--temporal-address", $"127.0.0.1:{port}"]);

        Assert.Equal(1, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"runbook: cannot connect to Temporal at 127.0.0.1:{port}: connection refused", line, StringComparison.Ordinal);
        Assert.False(File.Exists(cli.StorePath), "nothing is created when the engine is unreachable");
    }

    [Fact]
    public async Task The_engine_and_address_come_from_RUNBOOK_ENGINE_and_TEMPORAL_ADDRESS()
    {
        var port = ClosedPort();
        var env = new Dictionary<string, string> { ["RUNBOOK_ENGINE"] = "temporal", ["TEMPORAL_ADDRESS"] = $"127.0.0.1:{port}" };

        var (code, _, err) = await cli.InvokeAsync("alice", env, CancellationToken.None, "runs");

        Assert.Equal(1, code);
        Assert.Contains($"cannot connect to Temporal at 127.0.0.1:{port}", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_reported_after_the_connect_deadline_not_waited_for()
    {
        // Accepts TCP and says nothing, as a wrong port behind a firewall or a hung proxy does.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var (code, _, err) = await cli.InvokeAsync("alice", [], bound.Token, "runs", "--engine", "temporal", "--temporal-address", $"127.0.0.1:{port}");

        Assert.False(bound.IsCancellationRequested, "the command ended by itself");
        Assert.Equal(1, code);
        Assert.Equal($"runbook: cannot reach Temporal at 127.0.0.1:{port} within 10 s: is the server running and the address right (--temporal-address or TEMPORAL_ADDRESS)?", err.Trim());
    }

    [Fact]
    public async Task Half_an_mTLS_pair_or_an_unreadable_certificate_is_refused_before_connecting()
    {
        var (half, _, halfErr) = await cli.InvokeAsync("alice", "runs", "--engine", "temporal", "--temporal-tls-cert", "client.pem");
        Assert.Equal(1, half);
        Assert.Equal("runbook: mTLS to Temporal needs both --temporal-tls-cert and --temporal-tls-key", halfErr.Trim());

        var missing = Path.Combine(cli.Directory, "nope.pem");
        var (unread, _, unreadErr) = await cli.InvokeAsync("alice", "runs", "--engine", "temporal", "--temporal-tls-cert", missing, "--temporal-tls-key", missing);
        Assert.Equal(1, unread);
        Assert.StartsWith($"runbook: the Temporal client certificate '{missing}' cannot be read:", unreadErr.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_key_is_never_printed_nor_written_when_connecting_fails()
    {
        const string Key = "tmprl-key-0123456789abcdef";
        var port = ClosedPort();

        var (code, output, err) = await cli.InvokeAsync("alice", new Dictionary<string, string> { ["TEMPORAL_API_KEY"] = Key }, CancellationToken.None, "runs", "--engine", "temporal", "--temporal-address", $"127.0.0.1:{port}");

        Assert.Equal(1, code);
        Assert.DoesNotContain(Key, output + err, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", err, StringComparison.Ordinal);
        Assert.False(System.IO.Directory.Exists(Path.GetDirectoryName(cli.StorePath)) && System.IO.Directory.EnumerateFiles(Path.GetDirectoryName(cli.StorePath)!).Any(), "nothing is written");
    }

    [Fact]
    public async Task An_unknown_engine_is_a_usage_error()
    {
        var (flag, _, flagErr) = await cli.InvokeAsync("alice", "runs", "--engine", "nomad");
        Assert.Equal(2, flag);
        Assert.Contains("nomad", flagErr, StringComparison.Ordinal);

        var (env, _, envErr) = await cli.InvokeAsync("alice", new Dictionary<string, string> { ["RUNBOOK_ENGINE"] = "nomad" }, CancellationToken.None, "runs");
        Assert.Equal(2, env);
        Assert.Equal("runbook: RUNBOOK_ENGINE 'nomad' is not an engine: use builtin or temporal", envErr.Trim());
    }

    private static int ClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
