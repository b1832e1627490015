using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server.Tests;

/// <summary>
/// The server configuration's webhook sources: per-source credentials (proven with a real Alertmanager using
/// basic auth) and a generic JSON webhook read through its declared mapping.
/// </summary>
public sealed class WebhookSourceTests : IAsyncLifetime
{
    private const string CiToken = "ci-hook-token-5d1e";
    private const string AmPassword = "am-hook-password-93bc";
    private readonly ServerFixture server = new();

    private string SecretFile(string name, string value)
    {
        var path = Path.Combine(server.Directory, name);
        File.WriteAllText(path, value + "\n");
        return path;
    }

    public async Task InitializeAsync()
    {
        var config = Path.Combine(server.Directory, "server.yaml");
        await File.WriteAllTextAsync(config, $$"""
            sources:
              alertmanager:
                auth: { basic: { username: alertmanager, password: "secret://file/{{SecretFile("am-password", AmPassword)}}" } }
              ci-checks:
                auth: { bearer: "secret://file/{{SecretFile("ci-token", CiToken)}}" }
                mapping:
                  alerts: checks
                  name: check
                  status: state
                  firing: [failing, critical]
                  fingerprint: id
                  starts_at: since
                  labels: { instance: target.host, team: owner }
                  annotations: { summary: message }
            """);
        server.Write("ci-restart.yaml", """
            name: ci-restart
            inputs:
              host: { type: string, pattern: '^[a-z0-9.-]+$' }
            triggers:
              - source: ci-checks
                match: { alertname: Smoke, team: web }
                inputs: { host: "${{ alert.labels.instance }}" }
            steps:
              - id: note
                action: log
                with: { message: "restarting ${{ inputs.host }}" }
            """);
        server.Write("am-disk.yaml", """
            name: am-disk
            inputs:
              host: { type: string }
            triggers:
              - source: alertmanager
                match: { alertname: DiskFull }
                inputs: { host: "${{ alert.labels.instance }}" }
            steps:
              - id: note
                action: log
                with: { message: "disk on ${{ inputs.host }}" }
            """);
        await server.StartAsync(sources: WebhookSources.Load(config));
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static string Checks(string state, params string[] hosts) => $$"""
        {"pipeline": "smoke", "checks": [{{string.Join(",", hosts.Select(h => $$"""
            {"id": "chk-{{h}}", "check": "Smoke", "state": "{{state}}", "since": "2026-11-21T05:00:00Z",
             "target": {"host": "{{h}}", "zone": "eu"}, "owner": "web", "message": "smoke test failing on {{h}}"}
            """))}}]}
        """;

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(string path, string body, AuthenticationHeaderValue? auth)
    {
        using var http = server.Http(null);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = ServerFixture.JsonBody(body) };
        request.Headers.Authorization = auth;
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await ServerFixture.ReadAsync(response));
    }

    private static AuthenticationHeaderValue Basic(string user, string password) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    [Fact]
    public async Task A_generic_webhook_maps_its_body_to_alerts_that_start_dedupe_and_resolve_runs_with_its_own_token_only()
    {
        // Wrong credentials, including a valid API token, are refused before anything is stored.
        foreach (var wrong in new AuthenticationHeaderValue?[] { null, new("Bearer", "nope"), new("Bearer", server.Operator), Basic("ci", CiToken) })
        {
            var (status, body) = await PostAsync("/hooks/ci-checks", Checks("failing", "web-1"), wrong);
            Assert.True(status == HttpStatusCode.Unauthorized, $"{wrong}: {(int)status} {body}");
            Assert.Contains("/hooks/ci-checks accepts only 'Authorization: Bearer' with the source's token", (string)body!["error"]!["message"]!, StringComparison.Ordinal);
        }

        Assert.Empty(await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None));

        var token = new AuthenticationHeaderValue("Bearer", CiToken);
        var (accepted, first) = await PostAsync("/hooks/ci-checks", Checks("failing", "web-1", "web-2"), token);
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var outcomes = first!["outcomes"]!.AsArray();
        Assert.Equal(["started", "started"], outcomes.Select(o => (string)o!["outcome"]!));
        var runId = (string)outcomes[0]!["run_id"]!;
        var run = (await server.Store.GetRunAsync(runId, CancellationToken.None))!;
        Assert.Equal("alert:ci-checks/Smoke", run.CreatedBy);
        Assert.Equal("""{"host":"web-1"}""", JsonNode.Parse(run.Input!)!["inputs"]!.ToJsonString());
        var created = JsonNode.Parse((await server.Store.GetTimelineAsync(runId, 0, 10, CancellationToken.None))[0].Data!)!["trigger"]!;
        Assert.Equal("chk-web-1", (string)created["alert"]!["fingerprint"]!);
        Assert.Equal("smoke test failing on web-1", (string)created["alert"]!["annotations"]!["summary"]!);
        Assert.Equal("smoke", (string)created["payload"]!["pipeline"]!); // the body as received

        // The same episode again attaches; a status outside `firing` resolves.
        var (_, repeat) = await PostAsync("/hooks/ci-checks", Checks("critical", "web-1"), token);
        Assert.Equal(("attached", runId), ((string)repeat!["outcomes"]![0]!["outcome"]!, (string)repeat["outcomes"]![0]!["run_id"]!));
        var (_, resolved) = await PostAsync("/hooks/ci-checks", Checks("passing", "web-1"), token);
        Assert.Equal("resolved", (string)resolved!["outcomes"]![0]!["outcome"]!);
        Assert.Equal(2, (await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "ci-restart" }, CancellationToken.None)).Count);

        // A body without what the mapping names is a 400 that says which path is missing.
        var (bad, problem) = await PostAsync("/hooks/ci-checks", """{"checks": [{"id": "x", "check": "Smoke"}]}""", token);
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("checks.0: 'state' (the alert's status) is missing", (string)problem!["error"]!["message"]!);
        var (notList, listProblem) = await PostAsync("/hooks/ci-checks", """{"checks": {}}""", token);
        Assert.Equal(HttpStatusCode.BadRequest, notList);
        Assert.Contains("'checks' (the source's alerts path) must be a list", (string)listProblem!["error"]!["message"]!, StringComparison.Ordinal);

        var (missing, unknown) = await PostAsync("/hooks/no-such-source", "{}", token);
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Contains("/hooks/ci-checks", (string)unknown!["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_alertmanager_with_basic_auth_is_accepted_and_a_wrong_password_or_an_api_token_is_not()
    {
        var (wrong, _) = await PostAsync("/hooks/alertmanager", """{"version":"4","status":"firing","alerts":[]}""", Basic("alertmanager", "guess"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        var (token, _) = await PostAsync("/hooks/alertmanager", """{"version":"4","status":"firing","alerts":[]}""", new AuthenticationHeaderValue("Bearer", server.Operator));
        Assert.Equal(HttpStatusCode.Unauthorized, token);

        await using var am = await Alertmanager.StartWithBasicAuthAsync(server.Url, "alertmanager", SecretFile("am-password-for-alertmanager", AmPassword));
        await am.PostAsync("""[{"labels": {"alertname": "DiskFull", "instance": "db-3"}, "annotations": {}}]""");
        string? runId = null;
        await server.WaitUntilAsync(
            async () => (runId = (await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "am-disk" }, CancellationToken.None)).SingleOrDefault()?.RunId) is not null,
            "Alertmanager's notification, sent with basic auth, to start the runbook",
            TimeSpan.FromSeconds(60));
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId!) == "completed", "the run to complete");
        Assert.Equal("""{"host":"db-3"}""", JsonNode.Parse((await server.Store.GetRunAsync(runId!, CancellationToken.None))!.Input!)!["inputs"]!.ToJsonString());
    }

    [Fact]
    public async Task Grafana_may_deliver_with_put()
    {
        using var http = server.Http(server.Operator);
        using var response = await http.PutAsync("/hooks/grafana", ServerFixture.JsonBody("""{"version":"1","status":"firing","alerts":[]}"""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Theory]
    [InlineData("sources: [a]", "server.yaml:1:10: 'sources' must be a mapping of source name to { auth, mapping }")]
    [InlineData("sourcez: {}", "server.yaml:1:1: unknown key 'sourcez'; the server configuration has 'sources'")]
    [InlineData("sources:\n  Bad_Name: {}", "server.yaml:2:3: source name 'Bad_Name' must be lower-case letters, digits and '-' (its URL is /hooks/NAME)")]
    [InlineData("sources:\n  grafana:\n    auth: { bearer: plain-text-token-1234 }", "server.yaml:3:21: grafana: auth.bearer must be a secret reference (secret://env/NAME or secret://file/PATH), not the secret itself")]
    [InlineData("sources:\n  grafana:\n    auth: { bearer: secret://env/RUNBOOK_TEST_UNSET_VARIABLE_7 }", "server.yaml:3:21: grafana: auth.bearer: ")]
    [InlineData("sources:\n  grafana:\n    auth: { signature: secret://env/X }", "server.yaml:3:24: 'signature' is PagerDuty's scheme (X-PagerDuty-Signature); 'grafana' can use bearer, basic or query_token")]
    [InlineData("sources:\n  grafana:\n    auth: { bearer: secret://env/X, basic: {} }", "server.yaml:3:11: the auth of 'grafana' is exactly one of bearer, basic, signature, query_token")]
    [InlineData("sources:\n  grafana:\n    mapping: { name: a }", "server.yaml:3:14: 'grafana' is a built-in source with a payload of its own; 'mapping' is for generic sources")]
    [InlineData("sources:\n  my-hook:\n    auth: { bearer: secret://env/HOME }", "server.yaml:2:3: 'my-hook' is not a built-in source (alertmanager, grafana, pagerduty, azure-monitor), so it is a generic JSON webhook and needs 'mapping'")]
    [InlineData("sources:\n  my-hook:\n    mapping: { status: s }", "server.yaml:3:14: the mapping of 'my-hook' gives its alerts no labels: set 'name' and/or 'labels', which triggers match on")]
    [InlineData("sources:\n  my-hook:\n    mapping: { name: a..b }", "server.yaml:3:22: mapping.name must be a dotted path into the body, like check.name or items.0.id")]
    [InlineData("sources:\n  my-hook:\n    mapping: { name: n, firing: [up] }", "server.yaml:3:33: mapping.firing needs mapping.status (the path of the status it is compared with)")]
    [InlineData("sources:\n  my-hook:\n    mapping: { name: n, labelz: {} }", "server.yaml:3:25: unknown key 'labelz' in the mapping of 'my-hook'; keys: alerts, name, status, firing, fingerprint, starts_at, labels, annotations")]
    [InlineData("sources:\n  a: [", "server.yaml:3:1: YAML syntax error")]
    public void A_broken_server_configuration_is_refused_with_where_and_why_and_never_echoes_a_secret(string yaml, string expected)
    {
        var dir = Path.Combine(server.Directory, "configs", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "server.yaml");
        File.WriteAllText(path, yaml);
        var error = Assert.Throws<FormatException>(() => WebhookSources.Load(path));
        Assert.StartsWith(Path.Combine(dir, expected), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("plain-text-token-1234", error.Message, StringComparison.Ordinal);
    }
}
