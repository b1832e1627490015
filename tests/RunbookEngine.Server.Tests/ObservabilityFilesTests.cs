using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RunbookEngine.Server.Tests;

/// <summary>The Grafana dashboard and the Prometheus rules in docs/observability speak of metrics the engine has.</summary>
public sealed partial class ObservabilityFilesTests
{
    private static readonly string Directory = Path.Combine(Root(), "docs", "observability");

    [Fact]
    public async Task The_alert_rules_pass_promtool()
    {
        using var promtool = Process.Start(new ProcessStartInfo("/usr/bin/promtool", ["check", "rules", Path.Combine(Directory, "prometheus-rules.yaml")]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(promtool.ExitCode == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("prometheus-rules.yaml")]
    [InlineData("grafana-dashboard.json")]
    public void Every_metric_a_file_queries_is_one_the_engine_publishes(string file)
    {
        var published = PublishedNames();
        var used = MetricName().Matches(File.ReadAllText(Path.Combine(Directory, file))).Select(m => m.Value).Distinct().ToList();
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(published.Contains(Regex.Replace(name, "_(bucket|sum|count)$", string.Empty)), $"{file} queries {name}, which the engine does not publish; it publishes {string.Join(", ", published.Order(StringComparer.Ordinal))}"));
    }

    [Fact]
    public void The_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, "grafana-dashboard.json")))!;
        Assert.Equal("runbook-engine", dashboard["uid"]!.GetValue<string>());
        var panels = dashboard["panels"]!.AsArray();
        Assert.True(panels.Count >= 8);
        Assert.All(panels, p =>
        {
            Assert.Equal("${datasource}", p!["datasource"]!["uid"]!.GetValue<string>());
            Assert.All(p["targets"]!.AsArray(), t => Assert.False(string.IsNullOrWhiteSpace(t!["expr"]!.GetValue<string>())));
        });
        Assert.Contains(dashboard["templating"]!["list"]!.AsArray(), v => v!["name"]!.GetValue<string>() == "datasource" && v["type"]!.GetValue<string>() == "datasource");
    }

    /// <summary>The engine's instruments as the Prometheus exporter names them: dots to '_', '_seconds' for s, '_total' for counters.</summary>
    private static HashSet<string> PublishedNames()
    {
        foreach (var type in new[] { "RunbookEngine.Workflows.Execution.Telemetry, RunbookEngine.Workflows", "RunbookEngine.Runbooks.Telemetry, RunbookEngine.Runbooks", "RunbookEngine.Server.Telemetry, RunbookEngine.Server" })
        {
            RuntimeHelpers.RunClassConstructor(Type.GetType(type, throwOnError: true)!.TypeHandle);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (RunbookTelemetry.Names.Contains(instrument.Meter.Name))
                {
                    var name = instrument.Name.Replace('.', '_') + (instrument.Unit == "s" ? "_seconds" : string.Empty);
                    names.Add(instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal) ? name + "_total" : name);
                }
            },
        };
        listener.Start();
        return names;
    }

    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RunbookEngine.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root is not above " + AppContext.BaseDirectory);
    }

    /// <summary>A metric in PromQL: a name followed by its selector or range, or label_values' first argument (labels such as runbook_workflow are neither).</summary>
    [GeneratedRegex(@"\brunbook_[a-z_]+(?=\{|\[)|(?<=label_values\()runbook_[a-z_]+")]
    private static partial Regex MetricName();
}
