using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RunbookEngine.Testing;

/// <summary>
/// A throwaway PostgreSQL cluster for tests: initdb into a temporary directory, started on 127.0.0.1 on a free
/// non-default port, stopped and deleted when the test process exits. Needs the server binaries from Debian's
/// postgresql package (.ci/run installs them). When the tests run as root, the server runs as the postgres user.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private static readonly SemaphoreSlim SharedLock = new(1, 1);
    private static PostgresCluster? shared;
    private readonly string bin;
    private readonly string dataDir;
    private int disposed;

    private PostgresCluster(string bin, string dataDir, int port)
    {
        this.bin = bin;
        this.dataDir = dataDir;
        Port = port;
    }

    /// <summary>Gets the port the server listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>Gets a connection string to the cluster's <c>postgres</c> database as the superuser <c>runbook</c>.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=runbook;Database=postgres;Timeout=5;Command Timeout=30";

    /// <summary>Gets the cluster shared by every test of this process (started on first use).</summary>
    public static async Task<PostgresCluster> SharedAsync()
    {
        await SharedLock.WaitAsync();
        try
        {
            return shared ??= await StartAsync();
        }
        finally
        {
            SharedLock.Release();
        }
    }

    /// <summary>Starts a new cluster.</summary>
    /// <returns>The running cluster.</returns>
    public static async Task<PostgresCluster> StartAsync()
    {
        var bin = FindBinaries();
        var dataDir = Path.Combine(Path.GetTempPath(), "rbpg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dataDir);
        RemoveStaleClusters(dataDir);
        if (IsRoot)
        {
            await RunAsync("chown", ["postgres:postgres", dataDir], asPostgres: false);
        }

        await RunAsync(Path.Combine(bin, "initdb"), ["-D", dataDir, "-U", "runbook", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"], asPostgres: IsRoot);
        var port = FreePort();
        var cluster = new PostgresCluster(bin, dataDir, port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Stop();
        await cluster.StartServerAsync();
        return cluster;
    }

    /// <summary>Restarts the server (fast shutdown: connections are closed, in-flight transactions roll back).</summary>
    /// <returns>A task.</returns>
    public async Task RestartAsync()
    {
        await RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"], asPostgres: IsRoot);
        await StartServerAsync();
    }

    /// <summary>Stops the server and deletes its files.</summary>
    /// <returns>A task.</returns>
    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    private static bool IsRoot => Environment.UserName == "root";

    private Task StartServerAsync() => RunAsync(
        Path.Combine(bin, "pg_ctl"),
        [
            "-D", dataDir, "-l", Path.Combine(dataDir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -k {dataDir} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c full_page_writes=off -c shared_buffers=64MB",
            "start",
        ],
        asPostgres: IsRoot);

    private void Stop()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        try
        {
            var stop = Start(Path.Combine(bin, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"], IsRoot);
            stop.WaitForExit(30_000);
            Directory.Delete(dataDir, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Best effort at process exit; .ci/run also stops leftover test clusters.
        }
    }

    /// <summary>
    /// Deletes the directories of earlier test clusters whose server is not running and that are older than ten
    /// minutes by the file system's clock (a killed test process cannot clean up; a young one may still be in initdb).
    /// </summary>
    private static void RemoveStaleClusters(string ours)
    {
        var now = Directory.GetLastWriteTimeUtc(ours);
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "rbpg-*"))
        {
            try
            {
                if (dir != ours && !File.Exists(Path.Combine(dir, "postmaster.pid")) && now - Directory.GetLastWriteTimeUtc(dir) > TimeSpan.FromMinutes(10))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another test process may be using or deleting it.
            }
        }
    }

    private static string FindBinaries()
    {
        if (Environment.GetEnvironmentVariable("RUNBOOK_PG_BIN") is { Length: > 0 } configured)
        {
            return configured;
        }

        var root = "/usr/lib/postgresql";
        var found = Directory.Exists(root)
            ? Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException("PostgreSQL server binaries were not found under /usr/lib/postgresql/*/bin. Install them (apt-get install postgresql; .ci/run does) or set RUNBOOK_PG_BIN.");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static Process Start(string file, IReadOnlyList<string> args, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            info.ArgumentList.Add("-u");
            info.ArgumentList.Add("postgres");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(file);
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        return Process.Start(info)!;
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> args, bool asPostgres)
    {
        using var p = Start(file, args, asPostgres);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args)} failed with exit code {p.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }
}
