using System.Globalization;
using System.Net;
using System.Net.Sockets;
using RunbookEngine.Server;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;

namespace RunbookEngine.Bench;

/// <summary>
/// The kernel's 10-step workload with telemetry off and on, alternated in one process: "on" is what
/// OTEL_EXPORTER_OTLP_ENDPOINT turns on (every span and metric exported by OTLP/HTTP to a sink on 127.0.0.1).
/// </summary>
internal static class TelemetryBench
{
    public static async Task<int> RunAsync(int rounds, int runsAtOne, int runsConcurrent, int concurrency)
    {
        var dir = Path.Combine(Path.GetTempPath(), "runbook-telemetry-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        using var sink = new Sink();
        var env = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
        };
        var results = new Dictionary<string, (List<double> P50, List<double> Rate)> { ["off"] = ([], []), ["on"] = ([], []) };
        for (var round = 0; round < rounds; round++)
        {
            foreach (var mode in new[] { "off", "on" })
            {
                using var telemetry = mode == "on" ? RunbookTelemetry.Start(k => env.GetValueOrDefault(k)) : null;
                var workload = new TenStepWorkload();
                await using (var c1 = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(dir, $"{mode}-{round}-c1.db") }))
                {
                    var (gaps, _) = await workload.MeasureOneAtATimeAsync(c1, runsAtOne);
                    results[mode].P50.Add(TenStepWorkload.Percentile(gaps, 0.5));
                }

                await using var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(dir, $"{mode}-{round}-cn.db") });
                var client = new WorkflowClient(store);
                for (var r = 0; r < runsConcurrent; r++)
                {
                    await client.StartAsync(workload.Definition);
                }

                var worker = new WorkflowWorker(store, workload.Registry, new WorkerOptions { MaxConcurrentRuns = concurrency });
                var start = System.Diagnostics.Stopwatch.GetTimestamp();
                await worker.RunUntilIdleAsync(CancellationToken.None);
                results[mode].Rate.Add(runsConcurrent * TenStepWorkload.Steps / System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
        }

        foreach (var (mode, (p50, rate)) in results)
        {
            Console.WriteLine($"telemetry {mode}: c1 per-step p50 {string.Join(", ", p50.Select(x => x.ToString("F3", CultureInfo.InvariantCulture)))} ms; c{concurrency} {string.Join(", ", rate.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))} steps/s");
        }

        var p50Off = Median(results["off"].P50);
        var p50On = Median(results["on"].P50);
        var rateOff = Median(results["off"].Rate);
        var rateOn = Median(results["on"].Rate);
        Console.WriteLine($"medians: c1 p50 {p50Off:F3} -> {p50On:F3} ms ({(p50On / p50Off - 1) * 100:+0.0;-0.0}%); c{concurrency} {rateOff:F0} -> {rateOn:F0} steps/s ({(rateOn / rateOff - 1) * 100:+0.0;-0.0}%); OTLP requests received: {sink.Requests}, {sink.Bytes} bytes");
        Directory.Delete(dir, recursive: true);
        return 0;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>An OTLP/HTTP receiver on 127.0.0.1 that reads and drops what it is sent.</summary>
    private sealed class Sink : IDisposable
    {
        private readonly HttpListener listener = new();
        private long requests;
        private long bytes;

        public Sink()
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}";
            listener.Prefixes.Add(Url + "/");
            listener.Start();
            _ = Task.Run(LoopAsync);
        }

        public string Url { get; }

        public long Requests => Interlocked.Read(ref requests);

        public long Bytes => Interlocked.Read(ref bytes);

        public void Dispose() => listener.Close();

        private async Task LoopAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await ctx.Request.InputStream.CopyToAsync(body);
                Interlocked.Increment(ref requests);
                Interlocked.Add(ref bytes, body.Length);
                ctx.Response.StatusCode = 200;
                ctx.Response.Close();
            }
        }
    }
}
