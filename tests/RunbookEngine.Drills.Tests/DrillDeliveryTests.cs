using System.Text.Json.Nodes;
using RunbookEngine.Alerts;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills.Tests;

/// <summary>What a live drill sends for each alert source, read back with that source's own parser.</summary>
public sealed class DrillDeliveryTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("alertmanager")]
    [InlineData("grafana")]
    [InlineData("azure-monitor")]
    [InlineData("pagerduty")]
    public void Each_sources_payload_reads_back_as_the_drills_alert_firing_then_resolved(string source)
    {
        var labels = source == "pagerduty"
            ? new Dictionary<string, string> { ["alertname"] = "CheckoutDown", ["service"] = "checkout", ["urgency"] = "high", ["team"] = "shop,payments" }
            : new Dictionary<string, string> { ["alertname"] = "CheckoutDown", ["env"] = "prod", ["severity"] = "Sev1" };
        var annotations = source == "pagerduty" ? new Dictionary<string, string>() : new Dictionary<string, string> { ["description"] = "checkout is down" };
        var alert = new DrillAlert(source, labels, annotations, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), [], TimeSpan.FromMinutes(9), new SourceLocation("d.drill.yaml", 4, 5));
        Assert.Empty(DrillDelivery.Problems("gd", alert));

        var firing = DrillDelivery.Make("gd", alert, Start, "firing", null);
        var read = Assert.Single(DrillDelivery.Parse(source, JsonNode.Parse(DrillDelivery.Payload(firing, Start).ToJsonString())!));
        Assert.Equal((source, "firing"), (read.Source, read.Status));
        foreach (var (key, value) in labels)
        {
            Assert.Equal(value, read.Labels[key]);
        }

        foreach (var (key, value) in annotations)
        {
            Assert.Equal(value, read.Annotations[key]);
        }

        // The drill's episode is its own: the drill label (PagerDuty: the incident id) and a fingerprint over it.
        if (source == "pagerduty")
        {
            Assert.Equal(read.Labels["incident_id"], read.Fingerprint);
            Assert.StartsWith("drill-gd-", read.Fingerprint, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal("gd", read.Labels[DrillDelivery.DrillLabel]);
            Assert.NotEqual(Alert.FingerprintOf(labels), read.Fingerprint);
        }

        var resolved = DrillDelivery.Make("gd", alert, Start, "resolved", TimeSpan.FromMinutes(9));
        var back = Assert.Single(DrillDelivery.Parse(source, DrillDelivery.Payload(resolved, Start + TimeSpan.FromMinutes(9))));
        Assert.Equal(("resolved", read.Fingerprint), (back.Status, back.Fingerprint));
        Assert.Equal(Start + TimeSpan.FromMinutes(9), back.EndsAt);
    }

    [Fact]
    public void What_a_source_cannot_carry_is_named_at_the_alerts_line_and_what_it_stamps_itself_is_not()
    {
        var at = new SourceLocation("d.drill.yaml", 7, 5);
        var pager = new DrillAlert("pagerduty", new Dictionary<string, string> { ["alertname"] = "A", ["host"] = "web-1", ["incident_id"] = "PT4KHLK" }, new Dictionary<string, string> { ["event_id"] = "5ac6", ["runbook"] = "x" }, TimeSpan.Zero, TimeSpan.Zero, [], null, at);
        var problems = DrillDelivery.Problems("gd", pager);
        Assert.Equal(2, problems.Count);
        Assert.StartsWith("d.drill.yaml:7:5: label 'host' cannot be sent live to /hooks/pagerduty", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("d.drill.yaml:7:5: annotation 'runbook' cannot be sent live", problems[1], StringComparison.Ordinal);

        var azure = new DrillAlert("azure-monitor", new Dictionary<string, string> { ["alertname"] = "A", ["anything"] = "goes" }, new Dictionary<string, string> { ["summary"] = "s", ["alert_id"] = "/x" }, TimeSpan.Zero, TimeSpan.Zero, [], null, at);
        Assert.Equal(["d.drill.yaml:7:5: annotation 'summary' cannot be sent live to /hooks/azure-monitor (labels go into the essentials and customProperties; of the annotations only description); keep it for replays or drop it"], DrillDelivery.Problems("gd", azure));
    }
}
