using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RunbookEngine.Cli.Tests;

/// <summary>
/// The CLI on a SQLite store whose filesystem fills up or turns read-only: a real tmpfs of 1 MiB, and one remounted
/// read-only, each in a private mount namespace (<c>unshare --user --map-root-user --mount</c>, so no root is needed
/// where user namespaces are enabled, as on Debian). What the user sees is one clear line and a non-zero exit, never
/// a stack trace or a hang; what was committed before is still there.
/// </summary>
public sealed class FilesystemFaultTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);
    private readonly CliFixture cli = new();

    public FilesystemFaultTests() => cli.Write("note.yaml", """
        name: note
        inputs:
          msg: { type: string }
        steps:
          - id: say
            action: log
            with: { message: "${{ inputs.msg }}" }
        """);

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task A_full_disk_fails_each_write_with_one_clear_line_and_keeps_every_run_that_completed()
    {
        var lines = await InNamespaceAsync("""
            M="$DIR/full"; mkdir -p "$M"
            mount -t tmpfs -o size=1m tmpfs "$M" || { echo "cannot mount a tmpfs"; exit 90; }
            export RUNBOOK_STORE="$M/runbook.db"
            big=$(head -c 90000 /dev/zero | tr '\0' x)
            for i in 1 2 3 4 5 6; do
              "$DOTNET" "$DLL" run note -p "msg=$big" >"$DIR/full.$i.out" 2>"$DIR/full.$i.err"; echo "run $i $?"
            done
            "$DOTNET" "$DLL" runs -o json >"$DIR/full.runs" 2>"$DIR/full.runs.err"; echo "runs $?"
            """);

        var codes = Enumerable.Range(1, 6).Select(i => int.Parse(lines.Single(l => l.StartsWith($"run {i} ", StringComparison.Ordinal)).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(0, codes[0]); // the first run fits
        Assert.Contains(1, codes); // then the disk is full
        for (var i = 1; i <= 6; i++)
        {
            if (codes[i - 1] != 0)
            {
                Assert.Equal(1, codes[i - 1]);
                var err = await File.ReadAllTextAsync(Path.Combine(cli.Directory, $"full.{i}.err"));
                Assert.Matches(@"^runbook: The database \S+/full/runbook\.db is full: the disk has no space left or the database reached its size cap\. Nothing of the failed write was saved; free space and retry\.\n$", err);
            }
        }

        // Reading still works on the full disk, and every run that said it completed is there, completed.
        Assert.Contains("runs 0", lines);
        var runs = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(cli.Directory, "full.runs")))!.AsArray();
        var completed = runs.Where(r => (string)r!["status"]! == "completed").ToList();
        Assert.Equal(codes.Count(c => c == 0), completed.Count);
        Assert.All(completed, r => Assert.Equal(90000, ((string)r!["inputs"]!["msg"]!).Length));
    }

    [Fact]
    public async Task A_read_only_store_refuses_with_one_clear_line_changes_nothing_and_is_whole_when_writable_again()
    {
        var lines = await InNamespaceAsync("""
            R="$DIR/ro"; mkdir -p "$R"
            mount -t tmpfs -o size=8m tmpfs "$R" || { echo "cannot mount a tmpfs"; exit 90; }
            export RUNBOOK_STORE="$R/runbook.db"
            "$DOTNET" "$DLL" run note -p msg=before >"$DIR/ro.1.out" 2>"$DIR/ro.1.err"; echo "run 1 $?"
            mount -o remount,ro,size=8m tmpfs "$R" || { echo "cannot remount read-only"; exit 91; }
            "$DOTNET" "$DLL" run note -p msg=refused >"$DIR/ro.2.out" 2>"$DIR/ro.2.err"; echo "run 2 $?"
            mount -o remount,rw,size=8m tmpfs "$R"
            "$DOTNET" "$DLL" runs -o json >"$DIR/ro.runs" 2>"$DIR/ro.runs.err"; echo "runs $?"
            """);

        Assert.Contains("run 1 0", lines);
        Assert.Contains("run 2 1", lines);
        var err = await File.ReadAllTextAsync(Path.Combine(cli.Directory, "ro.2.err"));
        Assert.StartsWith("runbook: The database ", err, StringComparison.Ordinal);
        Assert.Contains("/ro/runbook.db exists but cannot be opened for writing: the file, its directory or its filesystem is read-only", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd('\n').Split('\n')); // one line, no stack trace
        Assert.Empty(await File.ReadAllTextAsync(Path.Combine(cli.Directory, "ro.2.out")));

        Assert.Contains("runs 0", lines);
        var run = Assert.Single(JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(cli.Directory, "ro.runs")))!.AsArray());
        Assert.Equal(("completed", "before"), ((string)run!["status"]!, (string)run["inputs"]!["msg"]!));
    }

    /// <summary>Runs a bash script in a private user and mount namespace; returns its stdout lines.</summary>
    private async Task<List<string>> InNamespaceAsync(string script)
    {
        var info = new ProcessStartInfo("unshare", ["--user", "--map-root-user", "--mount", "bash", "-c", "set -u\n" + script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = cli.Directory,
        };
        info.Environment["DIR"] = cli.Directory;
        info.Environment["DOTNET"] = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        info.Environment["DLL"] = CliFixture.Dll;
        info.Environment["RUNBOOK_PATH"] = cli.RunbooksDir;
        info.Environment["RUNBOOK_USER"] = "ops";
        info.Environment["RUNBOOK_SCRIPT_CACHE"] = Path.Combine(cli.Directory, "scripts");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Limit);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"the namespace script failed with {process.ExitCode} (user namespaces and tmpfs mounts are needed: unshare --user --map-root-user --mount):\n{output}\n{await stderr}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}
