/*---
name: restart-unhealthy-service-script
description: |
  restart-unhealthy-service written as a C# script: the same steps and outcomes as the YAML runbook.
  Probes the health URL; if unhealthy, restarts the service through its restart endpoint and polls until it
  is healthy again (failing the run if it is not within `recovery_timeout`, so the on-call is paged).
inputs:
  health_url:       { type: string, required: true, pattern: '^https?://', description: "the health check URL" }
  restart_url:      { type: string, required: true, pattern: '^https?://', description: "POST here restarts the service" }
  recovery_timeout: { type: string, default: 2m, description: "how long to wait for health after the restart (e.g. 90s, 2m)" }
outputs:
  initial_status: the health check's first status code
  restarted: whether the service was restarted
---*/

var health = Input<string>("health_url");
int[] anyStatus = [200, 500, 502, 503, 504];

var probe = await Http("probe", health, expectStatus: anyStatus);
var restarted = false;
if (DryRun || probe.Status != 200)
{
    await Http("restart", Input<string>("restart_url"), method: "POST",
        body: new { reason = $"health check returned {probe.Status}", run = RunId },
        settings: new StepSettings { MaxAttempts = 3, InitialInterval = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(30) });
    await WaitUntil("healthy",
        () => Http("probe", health, expectStatus: anyStatus),
        until: r => r.Status == 200,
        interval: TimeSpan.FromSeconds(5),
        timeout: Duration(Input<string>("recovery_timeout")));
    restarted = true;
}

await Log("report", $"health was {probe.Status}; restarted: {(restarted ? "succeeded" : "skipped")}");
Output("initial_status", probe.Status);
Output("restarted", restarted);

// "90s", "2m", "1h" as in YAML runbooks.
static TimeSpan Duration(string text) => text[^1] switch
{
    's' => TimeSpan.FromSeconds(double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture)),
    'm' => TimeSpan.FromMinutes(double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture)),
    'h' => TimeSpan.FromHours(double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture)),
    _ => throw new ArgumentException($"recovery_timeout '{text}' is not a duration like 90s, 2m or 1h"),
};
