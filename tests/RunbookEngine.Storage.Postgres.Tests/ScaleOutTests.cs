using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;
using Xunit.Abstractions;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// Scale-out with real processes: one `runbook serve --no-worker` process and three `runbook worker` processes
/// share one PostgreSQL database. The runs are started through the server's REST API, as a user or an alert
/// would start them; the workers execute them, and one worker is SIGKILLed while its steps are in flight.
/// </summary>
public sealed class ScaleOutTests : IDisposable
{
    private const int Runs = 200;
    private const int StepsPerRun = 5;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);
    private readonly ITestOutputHelper output;
    private readonly string dir;
    private readonly CliProcesses cli;

    public ScaleOutTests(ITestOutputHelper output)
    {
        this.output = output;
        dir = Directory.CreateTempSubdirectory("rb-scale-").FullName;
        cli = new CliProcesses(output, dir);
    }

    [Fact]
    public async Task Server_and_three_workers_200_runs_started_through_the_api_one_worker_killed_mid_step_every_run_completes_and_no_completed_step_runs_twice()
    {
        await using var pg = await PgTest.CreateAsync();
        var log = Path.Combine(dir, "executions.log");
        var runbooks = Directory.CreateDirectory(Path.Combine(dir, "runbooks")).FullName;
        await File.WriteAllTextAsync(Path.Combine(runbooks, "drill.yaml"), Runbook(log));
        var observer = await pg.OpenAsync();

        var tokens = Path.Combine(dir, "tokens.yaml");
        var (created, token) = await RunCliAsync(pg, "token", "create", "drill", "--role", "operator", "--tokens", tokens);
        Assert.True(created == 0, token);
        var (server, banner) = await StartCliAsync(pg, "server", "serve", "--no-worker", "--urls", "http://127.0.0.1:0", "--tokens", tokens, "--runbooks", runbooks);
        var url = System.Text.RegularExpressions.Regex.Match(banner, @"http://127\.0\.0\.1:\d+").Value;
        Assert.True(url.Length > 0, $"no loopback address in the server's banner: {banner}");
        Assert.Contains("no embedded worker", banner, StringComparison.Ordinal);

        var workers = new List<(Process Process, string Id)>();
        for (var i = 0; i < 3; i++)
        {
            var (p, first) = await StartCliAsync(pg, $"w{i}", "worker", "--lease", $"{Lease.TotalSeconds:0}s", "--concurrency", "8");
            Assert.True(first.StartsWith("worker ", StringComparison.Ordinal), $"unexpected first line from w{i}: {first}");
            workers.Add((p, first.Split(' ')[1]));
        }

        // Every run is started through the server's API; the idempotency key makes a resent request harmless.
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Trim());
        var runIds = new List<string>();
        for (var i = 0; i < Runs; i++)
        {
            using var response = await http.PostAsJsonAsync("/api/runs", new { runbook = "scale-out-drill", idempotency_key = $"drill-{i}" });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/runs answered {(int)response.StatusCode}: {body}");
            var run = JsonNode.Parse(body)!["run"]!;
            Assert.Equal("user:drill", run["started_by"]!.GetValue<string>());
            runIds.Add(run["run_id"]!.GetValue<string>());
        }

        // Kill the first worker once it has several steps in flight, re-checked whenever a step writes its line (no clock).
        var victim = workers[0];
        await WaitUntilAsync(log, async () => await InFlightAsync(pg, victim.Id) >= 3, TimeSpan.FromSeconds(120));
        victim.Process.Kill(entireProcessTree: true);
        await victim.Process.WaitForExitAsync();
        var killedAt = TimeProvider.System.GetUtcNow();
        // What was durably completed when the worker died: final, whatever happens next.
        var completedAtKill = await StepsAsync(pg, "s.status = 'completed'");
        output.WriteLine($"killed {victim.Id}; {completedAtKill.Count} steps were completed");

        await pg.WaitForEndedAsync(observer, runIds, TimeSpan.FromSeconds(240));
        foreach (var p in workers.Skip(1).Select(w => w.Process).Append(server))
        {
            await CliProcesses.SignalAsync(p, "INT");
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, p.ExitCode);
        }

        // Every run completed with a verifiable timeline.
        foreach (var id in runIds)
        {
            Assert.Equal(RunStatus.Completed, (await observer.GetRunAsync(id, CancellationToken.None))!.Status);
            Assert.Null(TimelineChain.Verify(await observer.GetTimelineAsync(id, 0, 10_000, CancellationToken.None)));
        }

        // Executions as the shell steps themselves recorded them: "<run>/<seq>/<attempt> <worker>".
        var executions = (await File.ReadAllLinesAsync(log))
            .Select(l => l.Split(' '))
            .Select(p => (Key: p[0][..p[0].LastIndexOf('/')], Attempt: int.Parse(p[0][(p[0].LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture), Worker: p[1]))
            .GroupBy(e => e.Key)
            .ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(Runs * StepsPerRun, executions.Count);

        // No step that was completed when the worker died ran again.
        Assert.All(completedAtKill, k => Assert.Single(executions[k]));

        // Every step the dead worker had begun but not completed was retried by a survivor with the next attempt.
        var interrupted = executions.Where(e => !completedAtKill.Contains(e.Key) && e.Value.Any(x => x.Worker == "w0")).Select(e => e.Key).ToList();
        foreach (var k in interrupted)
        {
            Assert.Contains(executions[k], e => e.Worker != "w0" && e.Attempt >= 2);
        }

        // A step ran more than once only if the dead worker ran it first; all the others ran exactly once.
        var repeated = executions.Where(e => e.Value.Count > 1).ToList();
        Assert.All(repeated, e => Assert.Equal("w0", e.Value.OrderBy(x => x.Attempt).First().Worker));
        var retried = executions.Count(e => e.Value.Any(x => x.Attempt >= 2));
        output.WriteLine($"{interrupted.Count} step(s) interrupted by the kill; {retried} retried; {repeated.Count} executed twice");
        Assert.True(retried > 0, "no step was retried: the kill interrupted nothing");

        var recoveries = new List<DateTimeOffset>();
        foreach (var id in runIds)
        {
            recoveries.AddRange((await observer.GetTimelineAsync(id, 0, 10_000, CancellationToken.None))
                .Where(e => e.Kind is "step.interrupted" or "run.recovered" && e.Data!.Contains(victim.Id, StringComparison.Ordinal))
                .Select(e => e.At));
        }

        var firstRetry = recoveries.Min() - killedAt;
        output.WriteLine($"kill to first retried step: {firstRetry.TotalMilliseconds:0} ms (lease {Lease.TotalSeconds:0} s)");
        Assert.True(firstRetry < Lease + TimeSpan.FromSeconds(20), $"recovery took {firstRetry}, far beyond the {Lease} lease");
    }

    public void Dispose()
    {
        cli.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    private static string Runbook(string log)
    {
        var steps = string.Concat(Enumerable.Range(1, StepsPerRun).Select(i => $"""
              - id: step{i}
                action: shell
                with:
                  command: 'echo "$RUNBOOK_IDEMPOTENCY_KEY $WORKER_NAME" >> "{log}"; sleep 0.1'

            """));
        return $"""
            name: scale-out-drill
            description: Five steps that each record their execution, for the scale-out test.
            steps:
            {steps}
            """;
    }

    private static Dictionary<string, string> Env(PgTest pg) => new() { ["RUNBOOK_STORE"] = pg.ConnectionString, ["RUNBOOK_PG_SCHEMA"] = pg.Schema };

    private Task<(int Code, string Output)> RunCliAsync(PgTest pg, params string[] arguments) => cli.RunAsync(Env(pg), arguments);

    private Task<(Process Process, string FirstLine)> StartCliAsync(PgTest pg, string name, params string[] arguments) => cli.StartAsync(name, Env(pg), arguments);

    private static async Task<long> InFlightAsync(PgTest pg, string workerId) =>
        // A running inline step is held on its run's row (runs.running_step), any other in steps.
        await pg.ScalarAsync<long>(
            "SELECT count(*) FROM runs r WHERE r.status = 'running' AND r.lease_owner = @w AND (r.running_step IS NOT NULL OR EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.run_id AND s.status = 'running'))",
            new NpgsqlParameter("w", workerId));

    private static async Task<HashSet<string>> StepsAsync(PgTest pg, string where)
    {
        await using var cmd = pg.Sql.CreateCommand($"SELECT s.run_id || '/' || s.seq FROM steps s WHERE {where}");
        await using var r = await cmd.ExecuteReaderAsync();
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (await r.ReadAsync())
        {
            set.Add(r.GetString(0));
        }

        return set;
    }

    /// <summary>Re-checks a condition each time a file changes (inotify).</summary>
    private static async Task WaitUntilAsync(string file, Func<Task<bool>> condition, TimeSpan limit)
    {
        using var signal = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(file)!, Path.GetFileName(file)) { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName };
        watcher.Changed += (_, _) => signal.Release();
        watcher.Created += (_, _) => signal.Release();
        watcher.EnableRaisingEvents = true;
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            var left = limit - watch.Elapsed;
            if (left <= TimeSpan.Zero || !await signal.WaitAsync(left))
            {
                throw new TimeoutException($"condition not met within {limit}");
            }
        }
    }
}
