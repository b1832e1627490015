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
    private const string SigningSecret = "hmac-signing-secret-7f2a";
    private const string NextSigningSecret = "hmac-next-secret-0c41";
    private const string GrafanaSecret = "grafana-hmac-secret-5e19";
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
              signed-checks:
                auth:
                  hmac:
                    secrets: ["secret://file/{{SecretFile("hmac", SigningSecret)}}", "secret://file/{{SecretFile("hmac-next", NextSigningSecret)}}"]
                    header: X-Hub-Signature-256
                    timestamp_header: X-Signature-Timestamp
                    tolerance: 5m
                mapping:
                  alerts: checks
                  name: check
                  status: state
                  firing: [failing, critical]
                  fingerprint: id
                  labels: { instance: target.host, team: owner }
              grafana:
                auth: { hmac: { secret: "secret://file/{{SecretFile("grafana-hmac", GrafanaSecret)}}" } }
            """);
        server.Write("ci-restart.yaml", """
            name: ci-restart
            inputs:
              host: { type: string, pattern: '^[a-z0-9.-]+$' }
            triggers:
              - source: ci-checks
                match: { alertname: Smoke, team: web }
                inputs: { host: "${{ alert.labels.instance }}" }
              - source: signed-checks
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
    public async Task A_webhook_signed_with_hmac_and_a_timestamp_is_accepted_once_and_a_wrong_stale_or_replayed_signature_is_not()
    {
        var body = Checks("failing", "web-7");
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        (string, string)[] Signed(string secret, long at, string? text = null) =>
            [("X-Hub-Signature-256", "sha256=" + Hmac(secret, $"{at}:{text ?? body}")), ("X-Signature-Timestamp", at.ToString(System.Globalization.CultureInfo.InvariantCulture))];

        foreach (var (headers, says) in new[]
        {
            (Array.Empty<(string, string)>(), "missing X-Hub-Signature-256: /hooks/signed-checks accepts only deliveries signed with the source's secret"),
            ([("X-Hub-Signature-256", "sha256=" + Hmac(SigningSecret, body))], "missing X-Signature-Timestamp"),
            (Signed("a-guessed-secret", now), "X-Hub-Signature-256 does not match the body and X-Signature-Timestamp for any configured secret of 'signed-checks'"),
            (Signed(SigningSecret, now, text: Checks("failing", "web-8")), "does not match the body"),
            // The server reads its own clock some seconds after `now` (its first requests are slow): the skew it
            // reports is 10 minutes give or take those seconds.
            (Signed(SigningSecret, now - 600), @"re:X-Signature-Timestamp is 10m(\d{1,2}s)? behind the server's clock, beyond the 5m window"),
            (Signed(SigningSecret, now + 600), @"re:X-Signature-Timestamp is (10m|9m\d{1,2}s) ahead of the server's clock"),
            ([("X-Hub-Signature-256", "sha256=00"), ("X-Signature-Timestamp", "yesterday")], "X-Signature-Timestamp must be a Unix time in seconds"),
        })
        {
            var (status, answer) = await SendAsync("/hooks/signed-checks", body, headers);
            Assert.True(status == HttpStatusCode.Unauthorized, $"{says}: {(int)status} {answer}");
            Assert.Matches(says.StartsWith("re:", StringComparison.Ordinal) ? says[3..] : System.Text.RegularExpressions.Regex.Escape(says), (string)answer!["error"]!["message"]!);
        }

        Assert.Empty(await server.Store.ListRunsAsync(new RunQuery(), CancellationToken.None));

        var signed = Signed(SigningSecret, now);
        var (accepted, first) = await SendAsync("/hooks/signed-checks", body, signed);
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        Assert.Equal("started", (string)first!["outcomes"]![0]!["outcome"]!);

        // The same signed delivery again is a replay; the rotated-in secret signs a new one.
        var (replayed, replay) = await SendAsync("/hooks/signed-checks", body, signed);
        Assert.Equal(HttpStatusCode.Unauthorized, replayed);
        Assert.Equal("this X-Hub-Signature-256 was already accepted: a replayed delivery is refused; nothing was stored", (string)replay!["error"]!["message"]!);
        var (rotated, again) = await SendAsync("/hooks/signed-checks", body, Signed(NextSigningSecret, now - 1));
        Assert.Equal(HttpStatusCode.Accepted, rotated);
        Assert.Equal("attached", (string)again!["outcomes"]![0]!["outcome"]!);
        Assert.Single(await server.Store.ListRunsAsync(new RunQuery { WorkflowName = "ci-restart" }, CancellationToken.None));
    }

    [Fact]
    public async Task Grafana_signs_the_body_with_its_hmac_header_and_an_unsigned_or_wrongly_signed_delivery_is_refused()
    {
        const string Body = """{"version":"1","status":"firing","alerts":[]}""";
        var (unsigned, _) = await SendAsync("/hooks/grafana", Body, []);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned);
        var (wrong, _) = await SendAsync("/hooks/grafana", Body, [("X-Grafana-Alerting-Signature", Hmac("nope", Body))]);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        var (ok, answer) = await SendAsync("/hooks/grafana", Body, [("X-Grafana-Alerting-Signature", Hmac(GrafanaSecret, Body))]);
        Assert.True(ok == HttpStatusCode.Accepted, answer?.ToJsonString());
    }

    private static string Hmac(string secret, string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(text)));

    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(string path, string body, (string Name, string Value)[] headers)
    {
        using var http = server.Http(null);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = ServerFixture.JsonBody(body) };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, await ServerFixture.ReadAsync(response));
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
        const string Body = """{"version":"1","status":"firing","alerts":[]}""";
        using var http = server.Http(null);
        using var request = new HttpRequestMessage(HttpMethod.Put, "/hooks/grafana") { Content = ServerFixture.JsonBody(Body) };
        request.Headers.Add("X-Grafana-Alerting-Signature", Hmac(GrafanaSecret, Body));
        using var response = await http.SendAsync(request);
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
    [InlineData("sources:\n  alertmanager:\n    auth: { hmac: { secret: secret://env/HOME } }", "server.yaml:3:19: 'alertmanager' does not sign its deliveries with a shared secret as 'hmac' checks (use basic, bearer or query_token)")]
    [InlineData("sources:\n  grafana:\n    auth: { hmac: { header: X-Sig } }", "server.yaml:3:19: hmac auth needs 'secret' (a secret reference) or 'secrets' (a list, while rotating)")]
    [InlineData("sources:\n  grafana:\n    auth: { hmac: { secret: plain-text-token-1234 } }", "server.yaml:3:29: grafana: auth.hmac.secret must be a secret reference")]
    [InlineData("sources:\n  grafana:\n    auth: { hmac: { secret: secret://env/HOME, header: 'X Sig' } }", "server.yaml:3:56: auth.hmac.header must be an HTTP header name like X-Signature")]
    [InlineData("sources:\n  grafana:\n    auth: { hmac: { secret: secret://env/HOME, tolerance: soon } }", "server.yaml:3:59: auth.hmac.tolerance must be a duration like 5m")]
    [InlineData("sources:\n  grafana:\n    auth: { hmac: { secret: secret://env/HOME, algo: md5 } }", "server.yaml:3:48: unknown key 'algo' in the hmac auth of 'grafana'")]
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
