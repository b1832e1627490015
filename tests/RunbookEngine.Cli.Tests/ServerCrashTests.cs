using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows.Storage;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Tests;

/// <summary>
/// A real <c>runbook serve</c> process (on SQLite, and on PostgreSQL) is SIGKILLed right after it answered an Alertmanager webhook, and while
/// another one is in flight; a restarted server has the accepted alert's run, and Alertmanager's retry of the
/// unanswered one starts exactly one run (the fingerprint attaches any retry to a run already started).
/// </summary>
public sealed class ServerCrashTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task An_alert_the_killed_server_accepted_is_not_lost_and_one_it_was_handling_starts_one_run_when_retried(string kind)
    {
        var schema = "crash_" + Guid.NewGuid().ToString("N")[..12];
        var pgCluster = kind == "postgres" ? await RunbookEngine.Testing.PostgresCluster.SharedAsync() : null;
        var env = pgCluster is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["RUNBOOK_STORE"] = pgCluster.ConnectionString, ["RUNBOOK_PG_SCHEMA"] = schema };
        cli.Write("disk-alert.yaml", """
            name: disk-alert
            inputs:
              host: { type: string, pattern: "^[a-z0-9.-]+$" }
            triggers:
              - source: alertmanager
                match: ["alertname = DiskFull"]
                inputs: { host: "${{ alert.labels.instance }}" }
            steps:
              - id: ok
                approval: { approvers: ["group:sre"] }
              - id: report
                action: log
                with: { message: "cleaned ${{ inputs.host }}" }
            """);
        var tokens = Path.Combine(cli.Directory, "tokens.yaml");
        var (created, made, err) = await cli.RunProcessAsync("ops", string.Empty, "token", "create", "am", "--role", "operator", "--tokens", tokens);
        Assert.True(created == 0, err);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", made.Trim());

        // Accepted (202), then the server is killed at once.
        var (first, url) = await ServeAsync(tokens, env);
        using (first)
        {
            using var accepted = await http.PostAsync(url + "/hooks/alertmanager", Notification("web-1"));
            Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
            var outcome = JsonNode.Parse(await accepted.Content.ReadAsStringAsync())!["outcomes"]![0]!;
            Assert.Equal("started", (string)outcome["outcome"]!);
            await KillAsync(first);
        }

        // In flight: the request is sent and the server killed without waiting for the answer.
        var (second, url2) = await ServeAsync(tokens, env);
        using (second)
        {
            var inFlight = http.PostAsync(url2 + "/hooks/alertmanager", Notification("web-2"));
            await KillAsync(second);
            try
            {
                (await inFlight).Dispose(); // answered before the kill, or not: Alertmanager retries either way
            }
            catch (HttpRequestException)
            {
                // The connection died with the server.
            }
        }

        var (third, url3) = await ServeAsync(tokens, env);
        using (third)
        {
            // Alertmanager's retries of both notifications, to the restarted server.
            foreach (var host in new[] { "web-1", "web-2" })
            {
                using var retried = await http.PostAsync(url3 + "/hooks/alertmanager", Notification(host));
                Assert.Equal(System.Net.HttpStatusCode.Accepted, retried.StatusCode);
                Assert.Contains((string)JsonNode.Parse(await retried.Content.ReadAsStringAsync())!["outcomes"]![0]!["outcome"]!, new[] { "started", "attached" });
            }

            await KillAsync(third);
        }

        await using IWorkflowStore store = pgCluster is null
            ? await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = cli.StorePath })
            : await RunbookEngine.Storage.Postgres.PostgresWorkflowStore.OpenAsync(new RunbookEngine.Storage.Postgres.PostgresStoreOptions { ConnectionString = pgCluster.ConnectionString, Schema = schema });
        var runs = await store.ListRunsAsync(new RunQuery { Limit = 100 }, CancellationToken.None);
        Assert.Equal(2, runs.Count); // one per alert: none lost, none doubled
        // What the servers stored is executable: a worker whose clock is past the dead servers' leases recovers
        // both runs and takes them to their approval gates.
        var actions = RunbookEngine.Actions.ActionCatalog.CreateDefault();
        var later = new RunbookEngine.Testing.ManualTimeProvider(TimeProvider.System.GetUtcNow() + TimeSpan.FromMinutes(5));
        await using (var worker = new RunbookEngine.Workflows.WorkflowWorker(
            store,
            new RunbookEngine.Runbooks.RunbookResolver(actions),
            new RunbookEngine.Workflows.WorkerOptions(),
            new RunbookEngine.Workflows.ActivityRegistry().AddRunbookActions(actions, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance),
            later))
        {
            await worker.RunUntilIdleAsync(CancellationToken.None).WaitAsync(Bound);
        }

        foreach (var run in runs)
        {
            var timeline = await store.GetTimelineAsync(run.RunId, 0, 1000, CancellationToken.None);
            Assert.Null(TimelineChain.Verify(timeline));
            Assert.True(timeline.Any(e => e.Kind == "approval.requested"), string.Join(", ", timeline.Select(e => e.Kind + " " + e.Actor))); // each reached its gate and waits there
        }

        var hosts = runs.Select(r => (string)JsonNode.Parse(r.Input!)!["inputs"]!["host"]!).Order(StringComparer.Ordinal);
        Assert.Equal(["web-1", "web-2"], hosts);
    }

    private static StringContent Notification(string instance) => new($$"""
        {
          "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "truncatedAlerts": 0, "status": "firing",
          "receiver": "runbook", "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {"alertname": "DiskFull"},
          "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
          "alerts": [
            {"status": "firing", "labels": {"alertname": "DiskFull", "instance": "{{instance}}"}, "annotations": {},
             "startsAt": "2026-12-07T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "fp-{{instance}}"}
          ]
        }
        """, Encoding.UTF8, "application/json");

    private static async Task KillAsync(Process server)
    {
        server.Kill(entireProcessTree: true); // SIGKILL
        await server.WaitForExitAsync().WaitAsync(Bound);
    }

    private async Task<(Process Server, string Url)> ServeAsync(string tokens, Dictionary<string, string> env)
    {
        var (server, url, _) = await cli.ServeAsync(env, "--tokens", tokens);
        return (server, url);
    }
}
