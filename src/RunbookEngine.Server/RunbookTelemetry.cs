using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace RunbookEngine.Server;

/// <summary>
/// Exports the engine's traces and metrics with OpenTelemetry, configured by the standard <c>OTEL_*</c> environment
/// variables: traces and metrics go by OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or the signal's own
/// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> / <c>..._METRICS_ENDPOINT</c>) is set, with
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> (<c>grpc</c>, default, or <c>http/protobuf</c>), <c>OTEL_EXPORTER_OTLP_HEADERS</c>,
/// <c>OTEL_SERVICE_NAME</c> (default <c>runbook</c>) and <c>OTEL_RESOURCE_ATTRIBUTES</c> read by the SDK;
/// <c>OTEL_TRACES_EXPORTER=none</c> or <c>OTEL_METRICS_EXPORTER=none</c> turns one off, <c>OTEL_SDK_DISABLED=true</c> both.
/// </summary>
/// <remarks>
/// With nothing configured no provider is built: the engine's ActivitySource and Meter have no listener, and a
/// span or a measurement costs a null check. <c>runbook serve</c> also serves Prometheus at <c>GET /metrics</c>.
/// </remarks>
public static class RunbookTelemetry
{
    /// <summary>Gets the ActivitySource and Meter names of the engine (one per assembly, named after it).</summary>
    public static IReadOnlyList<string> Names { get; } = ["RunbookEngine.Workflows", "RunbookEngine.Runbooks", "RunbookEngine.Server", "RunbookEngine.Cli"];

    /// <summary>Whether traces are exported by OTLP.</summary>
    /// <param name="env">Reads an environment variable.</param>
    /// <returns>Whether an OTLP endpoint is configured for traces and they are not turned off.</returns>
    public static bool ExportsTraces(Func<string, string?> env) => Exports(env, "TRACES");

    /// <summary>Whether metrics are exported by OTLP.</summary>
    /// <param name="env">Reads an environment variable.</param>
    /// <returns>Whether an OTLP endpoint is configured for metrics and they are not turned off.</returns>
    public static bool ExportsMetrics(Func<string, string?> env) => Exports(env, "METRICS");

    /// <summary>
    /// Starts the exporters of a command other than <c>serve</c> (<c>run</c>, <c>worker</c>) as the environment
    /// says; disposing them flushes what is buffered, so a short <c>runbook run</c> loses nothing.
    /// </summary>
    /// <param name="env">Reads an environment variable; default the process's.</param>
    /// <returns>The providers, to dispose when the command ends.</returns>
    public static IDisposable Start(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        var traces = ExportsTraces(env)
            ? Sdk.CreateTracerProviderBuilder().ConfigureResource(r => Resource(r, env)).AddSource([.. Names]).AddHttpClientInstrumentation().AddOtlpExporter(o => Otlp(o, env, "TRACES")).Build()
            : null;
        var metrics = ExportsMetrics(env)
            ? Sdk.CreateMeterProviderBuilder().ConfigureResource(r => Resource(r, env)).AddMeter([.. Names]).AddOtlpExporter(o => Otlp(o, env, "METRICS")).Build()
            : null;
        return new Providers(traces, metrics);
    }

    /// <summary><c>runbook serve</c>: Prometheus at <c>/metrics</c> always, OTLP as the environment says, incoming <c>traceparent</c> honoured.</summary>
    internal static void AddTo(WebApplicationBuilder builder, Func<string, string?> env)
    {
        var otel = builder.Services.AddOpenTelemetry().ConfigureResource(r => Resource(r, env));
        otel.WithMetrics(m =>
        {
            // No cached scrape: a scrape right after an event shows it (Prometheus scrapes every few seconds at most).
            m.AddMeter([.. Names]).AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            if (ExportsMetrics(env))
            {
                m.AddOtlpExporter(o => Otlp(o, env, "METRICS"));
            }
        });
        if (ExportsTraces(env))
        {
            otel.WithTracing(t => t.AddSource([.. Names]).AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddOtlpExporter(o => Otlp(o, env, "TRACES")));
        }
    }

    private static bool Exports(Func<string, string?> env, string signal) =>
        !string.Equals(env("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase)
        && !string.Equals(env($"OTEL_{signal}_EXPORTER"), "none", StringComparison.OrdinalIgnoreCase)
        && (!string.IsNullOrWhiteSpace(env("OTEL_EXPORTER_OTLP_ENDPOINT")) || !string.IsNullOrWhiteSpace(env($"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")));

    /// <summary>
    /// The exporter's endpoint, protocol, headers and timeout from the OTEL_EXPORTER_OTLP_* variables as
    /// <paramref name="env"/> reads them (the SDK reads only the process's): a signal's own endpoint as given,
    /// the common one with /v1/traces or /v1/metrics appended for http/protobuf, as the specification says.
    /// </summary>
    private static void Otlp(OtlpExporterOptions options, Func<string, string?> env, string signal)
    {
        var protocol = env($"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") ?? env("OTEL_EXPORTER_OTLP_PROTOCOL");
        options.Protocol = string.Equals(protocol, "http/protobuf", StringComparison.OrdinalIgnoreCase) ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        if (env($"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") is { Length: > 0 } own)
        {
            options.Endpoint = new Uri(own);
        }
        else if (env("OTEL_EXPORTER_OTLP_ENDPOINT") is { Length: > 0 } common)
        {
            options.Endpoint = options.Protocol == OtlpExportProtocol.HttpProtobuf
                ? new Uri(common.TrimEnd('/') + (signal == "TRACES" ? "/v1/traces" : "/v1/metrics"))
                : new Uri(common);
        }

        if ((env($"OTEL_EXPORTER_OTLP_{signal}_HEADERS") ?? env("OTEL_EXPORTER_OTLP_HEADERS")) is { Length: > 0 } headers)
        {
            options.Headers = headers;
        }

        if ((env($"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT") ?? env("OTEL_EXPORTER_OTLP_TIMEOUT")) is { Length: > 0 } timeout && int.TryParse(timeout, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms))
        {
            options.TimeoutMilliseconds = ms;
        }
    }

    private static void Resource(ResourceBuilder resource, Func<string, string?> env)
    {
        // Read through env as well (the SDK's own detector reads only the process's variables, which tests cannot set per call).
        var attributes = (env("OTEL_RESOURCE_ATTRIBUTES") ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(kv => kv.Split('=', 2))
            .Where(kv => kv.Length == 2 && kv[0].Length > 0)
            .Select(kv => new KeyValuePair<string, object>(kv[0], Uri.UnescapeDataString(kv[1])))
            .ToList();
        var name = env("OTEL_SERVICE_NAME") is { Length: > 0 } n ? n : attributes.FirstOrDefault(a => a.Key == "service.name").Value as string ?? "runbook";
        resource.AddService(name, serviceVersion: typeof(RunbookTelemetry).Assembly.GetName().Version?.ToString()).AddAttributes(attributes.Where(a => a.Key != "service.name"));
    }

    private sealed class Providers(TracerProvider? traces, MeterProvider? metrics) : IDisposable
    {
        public void Dispose()
        {
            traces?.Dispose();
            metrics?.Dispose();
        }
    }
}
