using System.Diagnostics.Metrics;

namespace RunbookEngine.Server;

/// <summary>The assembly's one <see cref="Meter"/>, named <c>RunbookEngine.Server</c>.</summary>
internal static class Telemetry
{
    public const string Name = "RunbookEngine.Server";

    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> WebhookRequests = Meter.CreateCounter<long>("runbook.webhook.requests", "{request}", "Alert webhook deliveries, by source and outcome (accepted, refused, throttled).");

    public static readonly Counter<long> Alerts = Meter.CreateCounter<long>("runbook.alerts", "{alert}", "Alerts in accepted deliveries, by source and what they did (started, attached, unmatched, invalid, blocked, resolved, cancelled, no_run).");

    public static readonly ObservableGauge<double> QueueDepth = Meter.CreateObservableGauge("runbook.queue.depth", () => BacklogSampler.Observe(b => b.Count), "{item}", "Due work no worker has claimed yet, by task queue and kind (run: workflow code; step: an activity).");

    public static readonly ObservableGauge<double> QueueOldestAge = Meter.CreateObservableGauge("runbook.queue.oldest_age", () => BacklogSampler.Observe(null), "s", "How long the item that has waited longest has been due, by task queue and kind.");

    public static readonly ObservableGauge<int> Breaker = Meter.CreateObservableGauge("runbook.guard.breaker", BacklogSampler.ObserveBreakers, "{state}", "Each declared circuit breaker's state, by runbook and target: 0 closed, 1 half-open, 2 open.");

    public static void Webhook(string source, string outcome) =>
        WebhookRequests.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("outcome", outcome));
}
