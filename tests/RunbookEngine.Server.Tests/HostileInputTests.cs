using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace RunbookEngine.Server.Tests;

/// <summary>
/// Every endpoint and webhook, fed what a hostile or broken client sends (malformed JSON, wrong types, deep
/// nesting, empty, huge, not UTF-8, duplicate keys, wrong content type, unknown and malformed ids, path tricks in
/// names): each answer is a 4xx with a one-line reason in the API's error shape, never a 500, never a stack
/// trace, and nothing is stored.
/// </summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private const int MaxBody = 64 * 1024;

    private static readonly (string Method, string Path)[] BodyRoutes =
    [
        ("POST", "/api/runbooks/validate"),
        ("POST", "/api/runs"),
        ("POST", "/api/runs/{run}/approve"),
        ("POST", "/api/runs/{run}/reject"),
        ("POST", "/api/runs/{run}/cancel"),
        ("POST", "/api/runs/{run}/retry"),
        ("POST", "/api/guards/reset"),
        ("POST", "/api/drills"),
        ("POST", "/api/session"),
        ("POST", "/hooks/alertmanager"),
        ("POST", "/hooks/grafana"),
        ("PUT", "/hooks/grafana"),
        ("POST", "/hooks/pagerduty"),
        ("POST", "/hooks/azure-monitor"),
    ];

    private readonly ServerFixture server = new();
    private string run = string.Empty;

    public static TheoryData<string, string, string> Bodies()
    {
        string[] bodies = ["malformed", "wrong-types", "deep", "not-utf8", "duplicate-keys", "json-null", "array", "huge"];
        var data = new TheoryData<string, string, string>();
        foreach (var (method, path) in BodyRoutes)
        {
            foreach (var name in bodies)
            {
                data.Add(method, path, name);
            }
        }

        return data;
    }

    public async Task InitializeAsync()
    {
        server.Write("gated-restart.yaml", """
            name: gated-restart
            inputs:
              host: { type: string, required: true }
            steps:
              - id: approve
                approval: { approvers: ["group:sre-oncall"] }
            """);
        await server.StartAsync(maxBody: MaxBody);
        using var http = server.Http(server.Admin);
        using var started = await http.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restart","inputs":{"host":"web-1"}}"""));
        run = (string)(await ServerFixture.ReadAsync(started))!["run"]!["run_id"]!;
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(run) == "waiting", "the run waits for its approval");
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_hostile_body_gets_a_clear_4xx_and_changes_nothing(string method, string path, string body)
    {
        var before = await StateAsync();
        using var http = server.Http(server.Admin);
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{run}", run, StringComparison.Ordinal)) { Content = Body(body) };

        using var response = await http.SendAsync(request);

        // A signed webhook (PagerDuty here) refuses an unsigned delivery before it reads the body.
        await AssertRefusedAsync(response, $"{method} {path} with a {body} body", body == "huge" && path != "/hooks/pagerduty" ? 413 : null);
        Assert.Equal(before, await StateAsync());
    }

    [Fact]
    public async Task The_reasons_say_what_is_wrong_and_where()
    {
        using var http = server.Http(server.Admin);

        using var notUtf8 = await http.PostAsync("/hooks/alertmanager", Body("not-utf8"));
        Assert.Equal(HttpStatusCode.BadRequest, notUtf8.StatusCode);
        Assert.Equal("the body is not valid UTF-8 (from byte 6); JSON must be UTF-8", (string?)(await ServerFixture.ReadAsync(notUtf8))!["error"]!["message"]);

        using var duplicate = await http.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restart","inputs":{"host":"a","host":"b"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);
        var message = (string?)(await ServerFixture.ReadAsync(duplicate))!["error"]!["message"];
        Assert.Contains("'host'", message, StringComparison.Ordinal);
        Assert.StartsWith("the body is not valid JSON for this request:", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/api/runs")]
    [InlineData("POST", "/api/runbooks/validate")]
    [InlineData("POST", "/api/guards/reset")]
    [InlineData("POST", "/api/drills")]
    [InlineData("POST", "/api/session")]
    [InlineData("POST", "/hooks/alertmanager")]
    [InlineData("POST", "/hooks/azure-monitor")]
    public async Task An_empty_body_or_the_wrong_content_type_gets_a_clear_4xx(string method, string path)
    {
        var before = await StateAsync();
        using var http = server.Http(server.Admin);
        foreach (var content in new HttpContent[] { new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } }, new StringContent("{}", Encoding.UTF8, "text/plain"), new StringContent("runbook=x", Encoding.UTF8, "application/x-www-form-urlencoded") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
            using var response = await http.SendAsync(request);
            await AssertRefusedAsync(response, $"{method} {path} with {content.Headers.ContentType}, {content.Headers.ContentLength} bytes", null);
        }

        Assert.Equal(before, await StateAsync());
    }

    [Theory]
    [InlineData("GET", "/api/runs/run_does_not_exist", 404)]
    [InlineData("GET", "/api/runs/..%2F..%2Fetc%2Fpasswd", 404)]
    [InlineData("GET", "/api/runs/run_does_not_exist/timeline", 404)]
    [InlineData("GET", "/api/runs/{run}/timeline?after=-1", 400)]
    [InlineData("GET", "/api/runs/{run}/timeline?after=abc", 400)]
    [InlineData("GET", "/api/runs/{run}/timeline?last=0", 400)]
    [InlineData("GET", "/api/runs/{run}/timeline?last=100001", 400)]
    [InlineData("GET", "/api/runs/{run}/timeline?before=0", 400)]
    [InlineData("GET", "/api/runs/{run}/timeline?before=x", 400)]
    [InlineData("GET", "/api/runs?limit=abc", 400)]
    [InlineData("GET", "/api/runs?status=bogus", 400)]
    [InlineData("GET", "/api/alerts?limit=1e99", 400)]
    [InlineData("POST", "/api/runs/run_does_not_exist/approve", 404)]
    [InlineData("POST", "/api/runs/run_does_not_exist/cancel", 404)]
    [InlineData("POST", "/api/runs/run_does_not_exist/retry", 404)]
    [InlineData("GET", "/api/drills/999999", 404)]
    [InlineData("GET", "/api/drills/abc", 400)]
    [InlineData("GET", "/api/drills/-1", 400)]
    [InlineData("GET", "/api/drills?passed=maybe", 400)]
    [InlineData("GET", "/api/drills?limit=0", 400)]
    [InlineData("GET", "/api/runs?from=yesterday", 400)]
    [InlineData("GET", "/api/runs?before=2026-13-45T00:00:00Z", 400)]
    [InlineData("GET", "/api/runs?before_id=run_x", 400)]
    [InlineData("GET", "/api/approvals?limit=0", 400)]
    [InlineData("GET", "/api/approvals?limit=abc", 400)]
    [InlineData("GET", "/api/runs/run_does_not_exist/approval", 404)]
    [InlineData("GET", "/api/runs/run_does_not_exist/events", 404)]
    [InlineData("GET", "/api/runs/{run}/events?after=-5", 400)]
    [InlineData("GET", "/console/..%2Fapp.js", 404)]
    [InlineData("GET", "/console/index.html", 404)]
    [InlineData("GET", "/api/no/such/endpoint", 404)]
    public async Task Unknown_and_malformed_ids_and_parameters_get_a_clear_4xx(string method, string path, int status)
    {
        var before = await StateAsync();
        using var http = server.Http(server.Admin);
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{run}", run, StringComparison.Ordinal));
        if (method == "POST")
        {
            request.Content = ServerFixture.JsonBody("{}");
        }

        using var response = await http.SendAsync(request);

        await AssertRefusedAsync(response, $"{method} {path}", status);
        Assert.Equal(before, await StateAsync());
    }

    [Theory]
    [InlineData("../gated-restart")]
    [InlineData("../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("runbooks/gated-restart.yaml")]
    [InlineData("gated-restart\u0000")]
    public async Task A_runbook_name_that_is_a_path_is_refused(string name)
    {
        var before = await StateAsync();
        using var http = server.Http(server.Admin);

        using var response = await http.PostAsync("/api/runs", ServerFixture.JsonBody(System.Text.Json.JsonSerializer.Serialize(new { runbook = name, inputs = new { host = "web-1" } })));

        await AssertRefusedAsync(response, $"runbook '{name}'", null);
        Assert.Equal(before, await StateAsync());
    }

    private static HttpContent Body(string name)
    {
        byte[] bytes = name switch
        {
            "malformed" => Encoding.UTF8.GetBytes("{\"runbook\": "),
            "not-utf8" => [(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)'}'],
            "huge" => Encoding.UTF8.GetBytes("{\"pad\":\"" + new string('x', MaxBody + 1) + "\"}"),
            _ => Encoding.UTF8.GetBytes(Text(name)),
        };
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static string Text(string name) => name switch
    {
        "wrong-types" => """{"runbook": 5, "inputs": [1], "dry_run": "yes", "sources": "x", "step": {}, "key": [], "reason": 3, "comment": {}, "from_step": 1, "alerts": 7, "status": 9, "report": 5, "mode": []}""",
        "deep" => new string('[', 5000) + new string(']', 5000),
        "duplicate-keys" => """{"runbook": "gated-restart", "inputs": {"host": "a", "host": "b"}, "key": "k", "reason": "r", "alerts": [], "step": "s", "step": "t"}""",
        "json-null" => "null",
        "array" => "[]",
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string what, int? status)
    {
        var code = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(code is >= 400 and < 500, $"{what}: {code} {text}");
        if (status is { } expected)
        {
            Assert.True(code == expected, $"{what}: {code} (expected {expected}) {text}");
        }

        var error = System.Text.Json.Nodes.JsonNode.Parse(text)?["error"];
        Assert.True(error?["kind"] is not null && error["message"] is not null, $"{what}: not the API's error shape: {text}");
        var message = (string)error["message"]!;
        Assert.DoesNotContain("\n", message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.NotEqual("internal", (string?)error["kind"]);
    }

    /// <summary>What a refused request must not change: the runs, the first run's timeline and the alert journal.</summary>
    private async Task<string> StateAsync()
    {
        var runs = await server.Store.ListRunsAsync(new() { Limit = 100 }, CancellationToken.None);
        var timeline = await server.Store.GetTimelineAsync(run, 0, 10_000, CancellationToken.None);
        var journal = await server.Store.ListJournalAsync(new() { Limit = 100 }, CancellationToken.None);
        var drills = await server.Store.ListDrillReportsAsync(new() { Limit = 100 }, CancellationToken.None);
        return $"{runs.Count} runs ({string.Join(',', runs.Select(r => r.Status))}), {timeline.Count} events, {journal.Count} journal entries, {drills.Count} drill reports";
    }
}
