using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Cli.Tests;

/// <summary>OpenTelemetry export from the real <c>runbook</c> process, configured only by the standard OTEL_* variables.</summary>
public sealed class TelemetryCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Runbook_run_exports_its_trace_and_metrics_by_OTLP_over_HTTP_before_the_process_exits()
    {
        await using var collector = new LocalHttpServer((_, _) => (200, string.Empty, "application/x-protobuf"));
        cli.Write("otlp-hello.yaml", "name: otlp-hello\nsteps:\n  - id: say\n    action: log\n    with: { message: hello }\n");
        var env = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "rb-otlp-test",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=gameday",
        };

        var (code, output, err) = await cli.RunProcessAsync("alice", string.Empty, env, "run", "otlp-hello", "-o", "json");

        Assert.True(code == 0, err + output);
        var runId = JsonNode.Parse(output)!["run_id"]!.GetValue<string>();
        var requests = collector.Requests.ToList();
        var traces = requests.Where(r => r.Method == "POST" && r.Path == "/v1/traces").ToList();
        Assert.NotEmpty(traces);
        Assert.All(traces, r => Assert.Equal("application/x-protobuf", r.Headers.GetValueOrDefault("Content-Type")));

        // Protobuf keeps strings as they are: the run id (a span attribute), the span names and the resource.
        var spans = string.Concat(traces.Select(r => r.Body));
        Assert.Contains(runId, spans, StringComparison.Ordinal);
        Assert.Contains("runbook run", spans, StringComparison.Ordinal); // the command's span, the run's root
        Assert.Contains("run otlp-hello", spans, StringComparison.Ordinal);
        Assert.Contains("step say", spans, StringComparison.Ordinal);
        Assert.Contains("rb-otlp-test", spans, StringComparison.Ordinal);
        Assert.Contains("gameday", spans, StringComparison.Ordinal);
        Assert.Contains(requests, r => r.Path == "/v1/metrics" && r.Body.Contains("runbook.run.finished", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_tracing_on_each_log_line_names_its_trace_and_span_and_every_line_of_a_run_is_in_one_trace()
    {
        await using var collector = new LocalHttpServer((_, _) => (200, string.Empty, "application/x-protobuf"));
        cli.Write("logged.yaml", "name: logged\nsteps:\n  - id: one\n    action: log\n    with: { message: first }\n  - id: two\n    action: log\n    with: { message: second, level: warning }\n");
        var env = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf", ["RUNBOOK_LOG"] = "information" };

        var (code, output, err) = await cli.RunProcessAsync("alice", string.Empty, env, "run", "logged");

        Assert.True(code == 0, err + output);
        var lines = (output + err).Split('\n').Where(l => l.Contains("first", StringComparison.Ordinal) || l.Contains("second", StringComparison.Ordinal)).Where(l => l.Contains("=>", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        var traces = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, "SpanId:([0-9a-f]{16}), TraceId:([0-9a-f]{32})")).ToList();
        Assert.All(traces, m => Assert.True(m.Success));
        Assert.Single(traces.Select(m => m.Groups[2].Value).Distinct());
    }

    [Theory]
    [InlineData("OTEL_SDK_DISABLED", "true")]
    [InlineData("OTEL_TRACES_EXPORTER", "none")]
    public async Task An_exporter_turned_off_sends_nothing_even_with_an_endpoint(string variable, string value)
    {
        await using var collector = new LocalHttpServer((_, _) => (200, string.Empty, "application/x-protobuf"));
        cli.Write("quiet.yaml", "name: quiet\nsteps:\n  - id: say\n    action: log\n    with: { message: hello }\n");
        var env = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf", [variable] = value };

        var (code, output, err) = await cli.RunProcessAsync("alice", string.Empty, env, "run", "quiet");

        Assert.True(code == 0, err + output);
        Assert.DoesNotContain(collector.Requests, r => r.Path == "/v1/traces");
        Assert.Equal(variable == "OTEL_SDK_DISABLED", !collector.Requests.Any(r => r.Path == "/v1/metrics")); // metrics stay on when only traces are off
    }

    [Fact]
    public async Task A_run_resumed_after_its_worker_was_killed_continues_the_trace_it_started_in()
    {
        using var collector = new RawCollector();
        var fifo = await cli.FifoAsync("gate.fifo");

        cli.Write("crashy.yaml", $$$"""
            name: crashy
            steps:
              - id: wait
                action: shell
                with: { command: 'read line < "{{{fifo}}}"; echo "$line"' }
              - id: after
                action: log
                with: { message: done }
            """);
        var env = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf" };

        // Started by `runbook run --detach`: its command span is the run's root, exported when it exits.
        var (code, runId, err) = await cli.RunProcessAsync("ops", string.Empty, env, "run", "crashy", "--detach");
        Assert.True(code == 0, err);
        runId = runId.Trim();
        var root = Assert.Single(collector.Spans(), s => s.Name == "runbook run");

        // Worker A takes the step, and is killed (SIGKILL) while the step runs: whatever it had not exported is lost.
        using var first = cli.Start("ops", string.Empty, env, "worker", "--lease", "2s");
        await using (var opened = await CliFixture.OpenForWritingAsync(fifo))
        {
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        // Worker B resumes the run once A's lease has expired, runs the step again, and stops cleanly (flushing).
        using var second = cli.Start("ops", string.Empty, env, "worker", "--lease", "2s");
        await using (var pipe = await CliFixture.OpenForWritingAsync(fifo))
        {
            await pipe.WriteAsync("go\n"u8.ToArray());
        }

        var watch = Stopwatch.StartNew();
        while (JsonNode.Parse((await cli.InvokeAsync("ops", "status", runId, "-o", "json")).Out)?["status"]?.GetValue<string>() != "completed")
        {
            Assert.False(second.HasExited, "worker B exited before the run completed");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(90), "worker B did not complete the run within 90 s");
            await Task.Yield();
        }

        using (var stop = Process.Start("kill", ["-INT", second.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await stop.WaitForExitAsync();
        }

        await second.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        // Worker B's execution of the run and its attempt of the step are in the trace the run started in.
        var spans = collector.Spans();
        var execution = Assert.Single(spans, s => s.Name == "run crashy");
        Assert.Equal(root.TraceId, execution.TraceId);
        Assert.Equal(root.SpanId, execution.ParentSpanId);
        var attempt = Assert.Single(spans, s => s.Name == "step wait");
        Assert.Equal(root.TraceId, attempt.TraceId);
        Assert.Equal(execution.SpanId, attempt.ParentSpanId);
    }

    /// <summary>A span as OTLP carries it: name, trace id, span id and parent span id (hex).</summary>
    private sealed record Span(string Name, string TraceId, string SpanId, string ParentSpanId);

    /// <summary>An OTLP/HTTP receiver on 127.0.0.1 that keeps the spans of every /v1/traces request, read from the protobuf.</summary>
    private sealed class RawCollector : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly ConcurrentQueue<byte[]> traces = new();

        public RawCollector()
        {
            var port = ServiceProcess.FreePort();
            Url = $"http://127.0.0.1:{port}";
            listener.Prefixes.Add(Url + "/");
            listener.Start();
            _ = Task.Run(LoopAsync);
        }

        public string Url { get; }

        public List<Span> Spans() => [.. traces.SelectMany(body => Fields(body, 1).SelectMany(rs => Fields(rs, 2)).SelectMany(ss => Fields(ss, 2)).Select(ToSpan))];

        public void Dispose() => listener.Close();

        // ExportTraceServiceRequest: 1 resource_spans { 2 scope_spans { 2 spans { 1 trace_id, 2 span_id, 4 parent_span_id, 5 name } } }
        private static Span ToSpan(byte[] span)
        {
            string Hex(int field) => Fields(span, field).Select(Convert.ToHexStringLower).FirstOrDefault() ?? string.Empty;
            return new Span(System.Text.Encoding.UTF8.GetString(Fields(span, 5).FirstOrDefault() ?? []), Hex(1), Hex(2), Hex(4));
        }

        /// <summary>The length-delimited values of one field number in a protobuf message.</summary>
        private static IEnumerable<byte[]> Fields(byte[] message, int number)
        {
            var found = new List<byte[]>();
            var i = 0;
            while (i < message.Length)
            {
                var key = Varint(message, ref i);
                var (field, type) = ((int)(key >> 3), (int)(key & 7));
                switch (type)
                {
                    case 0: Varint(message, ref i); break;
                    case 1: i += 8; break;
                    case 5: i += 4; break;
                    case 2:
                        var length = (int)Varint(message, ref i);
                        if (field == number)
                        {
                            found.Add(message[i..(i + length)]);
                        }

                        i += length;
                        break;
                    default: throw new InvalidDataException($"protobuf wire type {type}");
                }
            }

            return found;
        }

        private static ulong Varint(byte[] data, ref int i)
        {
            ulong value = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = data[i++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
        }

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
                if (ctx.Request.Url!.AbsolutePath == "/v1/traces")
                {
                    traces.Enqueue(body.ToArray());
                }

                ctx.Response.StatusCode = 200;
                ctx.Response.Close();
            }
        }
    }
}
