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
}
