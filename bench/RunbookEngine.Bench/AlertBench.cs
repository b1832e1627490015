using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Server;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Bench;

/// <summary>
/// Alert-triggered runs through the real server on the embedded SQLite default: the time from an Alertmanager
/// notification being sent to the first step of the run it starts, at a fixed rate with every alert notified
/// three times (dedupe); the sustained rate; and an overload that must be shed with 429 and lose nothing accepted.
/// </summary>
internal static class AlertBench
{
    private const string Runbook = """
        name: bench-alert
        inputs:
          host: { type: string }
        triggers:
          - source: alertmanager
            match: { alertname: BenchAlert }
            inputs: { host: "${{ alert.labels.instance }}" }
        steps:
          - id: first
            action: log
            with: { message: "remediating ${{ inputs.host }}" }
        """;

    /// <param name="rate">New alerts per second (each notified three times: three times as many notifications).</param>
    /// <param name="seconds">How long the fixed rate is held.</param>
    /// <param name="sustained">How many notifications the sustained phase sends.</param>
    /// <param name="overload">How many notifications the overload burst sends at once.</param>
    public static async Task<int> RunAsync(int rate, int seconds, int sustained, int overload)
    {
        var dir = Path.Combine(Path.GetTempPath(), "runbook-alert-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Path.Combine(dir, "runbooks"));
        await File.WriteAllTextAsync(Path.Combine(dir, "runbooks", "bench-alert.yaml"), Runbook);
        var token = new ApiTokenFile(Path.Combine(dir, "tokens.yaml")).Create("bench", ApiRole.Operator, [], TimeProvider.System.GetUtcNow());

        var report = new List<string>();
        void Line(string s)
        {
            Console.WriteLine(s);
            report.Add(s);
        }

        // 1. Latency at a fixed rate, each alert notified three times (the second and third attach).
        var (store, app, url) = await StartAsync(Path.Combine(dir, "rate.db"), dir, 32, 256);
        await using (store)
        await using (app)
        {
            using var http = Client(url, token);
            await WarmUpAsync(http);
            var sent = new ConcurrentDictionary<string, DateTimeOffset>();
            var accepted = new ConcurrentBag<double>();
            var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
            var total = 3 * rate * seconds;
            var clock = Stopwatch.StartNew();
            var tasks = new List<Task>();
            for (var i = 0; i < total; i++)
            {
                var due = TimeSpan.FromSeconds((double)i / (3 * rate));
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }

                var alert = i / 3; // notifications 3k, 3k+1, 3k+2 carry the same alert
                var first = i % 3 == 0;
                tasks.Add(Task.Run(async () =>
                {
                    var at = TimeProvider.System.GetUtcNow();
                    var watch = Stopwatch.StartNew();
                    var status = await PostAsync(http, alert);
                    accepted.Add(watch.Elapsed.TotalMilliseconds);
                    statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                    if (first && status == HttpStatusCode.Accepted)
                    {
                        sent[$"bench-{alert}"] = at;
                    }
                }));
            }

            await Task.WhenAll(tasks);
            var sendSeconds = clock.Elapsed.TotalSeconds;
            await DrainAsync(store, total / 3);
            var firstStep = await FirstStepLatenciesAsync(store, sent);
            Line($"fixed rate: {rate} new alerts/s, each notified 3 times ({3 * rate} notifications/s), {total} notifications over {sendSeconds:F1} s; answers {Describe(statuses)}");
            Line($"  notification sent to first step started: p50 {Percentile(firstStep, 0.50):F1} ms, p99 {Percentile(firstStep, 0.99):F1} ms, max {firstStep.Max():F1} ms over {firstStep.Count} runs");
            Line($"  notification answered (202): p50 {Percentile([.. accepted], 0.50):F1} ms, p99 {Percentile([.. accepted], 0.99):F1} ms");
            Line($"  runs stored: {(await store.ListRunsAsync(new RunQuery { Limit = 100_000 }, CancellationToken.None)).Count} (expected {total / 3})");
        }

        // 2. Sustained: 32 senders as fast as the server answers, every alert notified three times.
        (store, app, url) = await StartAsync(Path.Combine(dir, "sustained.db"), dir, 32, 256);
        await using (store)
        await using (app)
        {
            using var http = Client(url, token);
            await WarmUpAsync(http);
            var next = -1;
            var count = sustained;
            var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    var status = await PostAsync(http, 1_000_000 + (i / 3));
                    statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                }
            })));
            var elapsed = clock.Elapsed.TotalSeconds;
            await DrainAsync(store, count / 3);
            Line($"sustained: {count} notifications from 32 concurrent senders in {elapsed:F1} s = {count / elapsed:F0} notifications/s ({count / 3 / elapsed:F0} new alerts/s, the rest deduplicated); answers {Describe(statuses)}; every run completed");
        }

        // 3. Overload: a burst far beyond the admission limit (4 at once, 8 queued) is shed with 429; every
        //    accepted alert has its run.
        (store, app, url) = await StartAsync(Path.Combine(dir, "overload.db"), dir, 4, 8);
        await using (store)
        await using (app)
        {
            using var http = Client(url, token);
            await WarmUpAsync(http);
            var acceptedAlerts = new ConcurrentBag<string>();
            var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
            await Task.WhenAll(Enumerable.Range(0, overload).Select(i => Task.Run(async () =>
            {
                var status = await PostAsync(http, 2_000_000 + i);
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (status == HttpStatusCode.Accepted)
                {
                    acceptedAlerts.Add($"bench-{2_000_000 + i}");
                }
            })));
            await DrainAsync(store, acceptedAlerts.Count);
            var runs = await store.ListRunsAsync(new RunQuery { Limit = 100_000 }, CancellationToken.None);
            var hosts = new HashSet<string>(runs.Select(r => System.Text.Json.Nodes.JsonNode.Parse(r.Input!)!["inputs"]!["host"]!.GetValue<string>()), StringComparer.Ordinal);
            var lost = acceptedAlerts.Count(a => !hosts.Contains(a));
            Line($"overload: {overload} notifications at once against 4 slots + 8 queued: answers {Describe(statuses)}; accepted {acceptedAlerts.Count}, runs stored {runs.Count}, accepted but lost {lost}");
            if (lost > 0 || statuses.Keys.Any(s => s is not (HttpStatusCode.Accepted or HttpStatusCode.TooManyRequests)))
            {
                return 1;
            }
        }

        Console.WriteLine();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        Directory.Delete(dir, recursive: true);
        return 0;
    }

    private static async Task<(SqliteWorkflowStore Store, Microsoft.AspNetCore.Builder.WebApplication App, string Url)> StartAsync(string db, string dir, int slots, int queue)
    {
        var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db });
        var app = RunbookServer.Build(
            new RunbookServerOptions
            {
                Urls = ["http://127.0.0.1:0"],
                RunbookDirectories = [Path.Combine(dir, "runbooks")],
                TokensFile = Path.Combine(dir, "tokens.yaml"),
                MaxConcurrentWebhooks = slots,
                WebhookQueueLimit = queue,
            },
            store,
            db,
            ActionCatalog.CreateDefault(),
            NullLoggerFactory.Instance);
        await app.StartAsync();
        return (store, app, app.Urls.Single());
    }

    private static HttpClient Client(string url, string token)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>JIT, connections and the runbook cache, before anything is measured (an alert that matches nothing).</summary>
    private static async Task WarmUpAsync(HttpClient http)
    {
        for (var i = 0; i < 50; i++)
        {
            using var content = new StringContent("""{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"WarmUp"},"annotations":{},"startsAt":"2026-11-21T03:00:00Z","fingerprint":"warm"}]}""", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("/hooks/alertmanager", content);
        }
    }

    private static async Task<HttpStatusCode> PostAsync(HttpClient http, int alert)
    {
        var body = $$"""
            {"version":"4","groupKey":"{}:{alertname=\"BenchAlert\"}","status":"firing","receiver":"runbook","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093",
             "alerts":[{"status":"firing","labels":{"alertname":"BenchAlert","instance":"bench-{{alert}}"},"annotations":{"summary":"benchmark"},
                        "startsAt":"2026-11-21T03:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"fp-{{alert}}"}]}
            """;
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/hooks/alertmanager", content);
        return response.StatusCode;
    }

    /// <summary>Waits until every run the benchmark started has completed.</summary>
    private static async Task DrainAsync(SqliteWorkflowStore store, int expected)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(5))
        {
            var done = (await store.ListRunsAsync(new RunQuery { Status = Workflows.RunStatus.Completed, Limit = 100_000 }, CancellationToken.None)).Count;
            if (done >= expected)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"runs did not complete within 5 minutes (expected {expected})");
    }

    private static async Task<List<double>> FirstStepLatenciesAsync(SqliteWorkflowStore store, ConcurrentDictionary<string, DateTimeOffset> sent)
    {
        var latencies = new List<double>();
        foreach (var run in await store.ListRunsAsync(new RunQuery { Limit = 100_000 }, CancellationToken.None))
        {
            var host = System.Text.Json.Nodes.JsonNode.Parse(run.Input!)!["inputs"]!["host"]!.GetValue<string>();
            if (!sent.TryGetValue(host, out var at))
            {
                continue;
            }

            var events = await store.GetTimelineAsync(run.RunId, 0, 100, CancellationToken.None);
            var started = events.First(e => e.Kind == TimelineKinds.StepStarted).At;
            latencies.Add((started - at).TotalMilliseconds);
        }

        return latencies;
    }

    private static string Describe(ConcurrentDictionary<HttpStatusCode, int> statuses) =>
        string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{(int)s.Key}×{s.Value}"));

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }
}
