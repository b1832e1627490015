using System.Net;
using System.Text.Json.Nodes;
using RunbookEngine.Server.WebConsole;
using RunbookEngine.Testing;

namespace RunbookEngine.Server.Tests;

/// <summary>What the web console stands on, over real HTTP on 127.0.0.1: sign-in, CSRF, approvals for the caller, live timelines, the page.</summary>
public sealed class ConsoleApiTests : IAsyncLifetime
{
    private const string Gated = """
        name: gated-restart
        inputs:
          host: { type: string, required: true }
        steps:
          - id: approve
            approval:
              approvers: ["group:sre-oncall"]
              timeout: 2h
          - id: restart
            action: log
            with: { message: "restarting ${{ inputs.host }}" }
        """;

    private readonly ServerFixture server = new();

    public async Task InitializeAsync()
    {
        server.Write("gated-restart.yaml", Gated);
        await server.StartAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Signing_in_exchanges_a_token_for_an_httponly_strict_cookie_and_a_csrf_token_that_every_change_needs()
    {
        var (cookie, csrf) = await SignInAsync(server.Operator);
        var runId = await StartAsync();

        using var browser = Browser(cookie);
        var who = await ServerFixture.ReadAsync(await browser.GetAsync("/api/session"));
        Assert.Equal("olga", (string?)who!["name"]);
        Assert.Equal("operator", (string?)who["role"]);
        Assert.Equal(csrf, (string?)who["csrf"]);

        // Reading needs only the cookie; a change without the CSRF token, or with another, is refused and changes nothing.
        using (var runs = await browser.GetAsync("/api/runs"))
        {
            Assert.Equal(HttpStatusCode.OK, runs.StatusCode);
        }

        foreach (var sent in new[] { null, "forged", csrf + "x" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{runId}/cancel") { Content = ServerFixture.JsonBody("{}") };
            if (sent is not null)
            {
                request.Headers.Add(ConsoleSessions.CsrfHeader, sent);
            }

            using var refused = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        Assert.Equal("waiting", await server.RunStatusAsync(runId));
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{runId}/cancel") { Content = ServerFixture.JsonBody("""{"reason":"from the console"}""") })
        {
            request.Headers.Add(ConsoleSessions.CsrfHeader, csrf);
            using var cancelled = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        }

        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "run.cancel_requested" && e.Actor == "user:olga" && e.Data!.Contains("from the console", StringComparison.Ordinal));

        // The token itself is nowhere in what the server keeps or logs.
        Assert.DoesNotContain(server.Operator, string.Join('\n', server.Logs.Lines), StringComparison.Ordinal);
        Assert.DoesNotContain(events, e => e.Data!.Contains(server.Operator, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_session_cookie_is_not_a_credential_for_webhooks_and_a_bearer_token_beats_a_cookie()
    {
        var (cookie, _) = await SignInAsync(server.Admin);
        using var browser = Browser(cookie);
        using var hook = await browser.PostAsync("/hooks/alertmanager", ServerFixture.JsonBody("""{"alerts":[]}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, hook.StatusCode);

        using var both = Browser(cookie);
        both.DefaultRequestHeaders.Authorization = new("Bearer", server.Viewer);
        var who = await ServerFixture.ReadAsync(await both.GetAsync("/api/session"));
        Assert.Equal("vic", (string?)who!["name"]);
        Assert.Null(who["csrf"]);
    }

    [Fact]
    public async Task Signing_out_or_revoking_the_token_ends_the_session_and_a_bad_sign_in_sets_no_cookie()
    {
        using (var bad = server.Http(null))
        {
            using var refused = await bad.PostAsync("/api/session", ServerFixture.JsonBody("""{"token":"rbk_nope"}"""));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.False(refused.Headers.Contains("Set-Cookie"));
            using var form = await bad.PostAsync("/api/session", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = server.Admin }));
            Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
            Assert.False(form.Headers.Contains("Set-Cookie"));
        }

        var (cookie, csrf) = await SignInAsync(server.Viewer);
        using var browser = Browser(cookie);
        using (var end = new HttpRequestMessage(HttpMethod.Post, "/api/session/end"))
        {
            end.Headers.Add(ConsoleSessions.CsrfHeader, csrf);
            using var ended = await browser.SendAsync(end);
            Assert.Equal(HttpStatusCode.OK, ended.StatusCode);
        }

        using (var after = await browser.GetAsync("/api/runs"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
            Assert.Contains("sign in again", (string?)(await ServerFixture.ReadAsync(after))!["error"]!["message"], StringComparison.Ordinal);
        }

        var (again, _) = await SignInAsync(server.Viewer);
        Assert.True(new ApiTokenFile(server.TokensPath).Revoke("vic", TimeProvider.System.GetUtcNow()));
        using var revoked = await Browser(again).GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
    }

    [Fact]
    public async Task Pending_approvals_say_for_each_caller_whether_the_api_would_take_their_decision()
    {
        var runId = await StartAsync();
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait");

        async Task<JsonNode> ApprovalAsync(string token)
        {
            using var http = server.Http(token);
            var list = (await ServerFixture.ReadAsync(await http.GetAsync("/api/approvals")))!.AsArray();
            var one = Assert.Single(list)!;
            var direct = (await ServerFixture.ReadAsync(await http.GetAsync($"/api/runs/{runId}/approval")))!["approval"]!;
            Assert.Equal(one.ToJsonString(), direct.ToJsonString());
            return one;
        }

        var bob = await ApprovalAsync(server.Approver);
        Assert.True((bool)bob["may_decide"]!);
        Assert.Null(bob["refusal"]);
        Assert.Equal("approve", (string?)bob["step"]);
        Assert.Equal(["group:sre-oncall"], bob["approvers"]!.AsArray().Select(a => (string?)a));
        Assert.True((bool)bob["four_eyes"]!);
        Assert.NotNull(bob["until"]);

        Assert.Equal("token 'vic' has role viewer; this needs approver or admin", (string?)(await ApprovalAsync(server.Viewer))["refusal"]);
        Assert.Equal("token 'olga' has role operator; this needs approver or admin", (string?)(await ApprovalAsync(server.Operator))["refusal"]);
        var ada = await ApprovalAsync(server.Admin);
        Assert.False((bool)ada["may_decide"]!);
        Assert.StartsWith("ada is not an approver of this step", (string?)ada["refusal"], StringComparison.Ordinal);

        // What it said is what the API does.
        using var admin = server.Http(server.Admin);
        var refused = await ServerFixture.ReadAsync(await admin.PostAsync($"/api/runs/{runId}/approve", ServerFixture.JsonBody("{}")));
        Assert.False((bool)refused!["accepted"]!);
        Assert.Equal((string?)ada["refusal"], (string?)refused["reason"]);
    }

    [Fact]
    public async Task A_timeline_comes_in_pages_newest_first_with_the_chain_checked_over_all_of_it()
    {
        var runId = await StartAsync();
        using var viewer = server.Http(server.Viewer);
        var whole = (await ServerFixture.ReadAsync(await viewer.GetAsync($"/api/runs/{runId}/timeline")))!;
        var all = whole["events"]!.AsArray().Select(e => (long)e!["seq"]!).ToList();
        Assert.True(all.Count > 4, $"{all.Count} events");
        Assert.Null(whole["earlier"]); // not written when nothing was left out

        var newest = (await ServerFixture.ReadAsync(await viewer.GetAsync($"/api/runs/{runId}/timeline?last=3")))!;
        Assert.Equal(all[^3..], newest["events"]!.AsArray().Select(e => (long)e!["seq"]!));
        Assert.Equal(all.Count - 3, (int)newest["earlier"]!);
        Assert.True((bool)newest["chain_intact"]!);

        var older = (await ServerFixture.ReadAsync(await viewer.GetAsync($"/api/runs/{runId}/timeline?before={all[^3]}")))!;
        Assert.Equal(all[..^3], older["events"]!.AsArray().Select(e => (long)e!["seq"]!));

        // Kinds: exact, or a prefix ending in '.'; the newest of them with how many older ones were left out.
        var lastKind = (string)whole["events"]!.AsArray()[^1]!["kind"]!;
        var prefix = lastKind[..(lastKind.IndexOf('.', StringComparison.Ordinal) + 1)];
        var kinds = (await ServerFixture.ReadAsync(await viewer.GetAsync($"/api/runs/{runId}/timeline?kind=run.created&kind={prefix}&last=2")))!;
        var expected = whole["events"]!.AsArray().Where(e => (string)e!["kind"]! == "run.created" || ((string)e!["kind"]!).StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.True(expected.Count > 2, string.Join(", ", whole["events"]!.AsArray().Select(e => (string)e!["kind"]!)));
        Assert.True(expected.Count < all.Count, "the filter must leave some events out");
        Assert.Equal(expected[^2..].Select(e => (long)e!["seq"]!), kinds["events"]!.AsArray().Select(e => (long)e!["seq"]!));
        Assert.Equal(expected.Count - 2, (int)kinds["earlier"]!);
    }

    [Fact]
    public async Task A_live_timeline_streams_every_event_once_in_order_resumes_after_the_last_id_and_ends_with_the_run()
    {
        var runId = await StartAsync();
        using var viewer = server.Http(server.Viewer);
        using var stream = await viewer.GetAsync($"/api/runs/{runId}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        var seen = new List<(string Event, string? Id, JsonNode? Data)>();
        async Task ReadUntilAsync(Func<(string Event, string? Id, JsonNode? Data), bool> done)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string? id = null, name = null;
            while (await reader.ReadLineAsync(limit.Token) is { } line)
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var message = (name!, id, JsonNode.Parse(line[6..]));
                    seen.Add(message);
                    (id, name) = (null, null);
                    if (done(message))
                    {
                        return;
                    }
                }
            }

            Assert.Fail("the stream closed early");
        }

        await ReadUntilAsync(m => m.Event == "run" && (string?)m.Data!["status"] == "waiting");
        using (var approver = server.Http(server.Approver))
        {
            using var approved = await approver.PostAsync($"/api/runs/{runId}/approve", ServerFixture.JsonBody("""{"comment":"go"}"""));
            Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        }

        await ReadUntilAsync(m => m.Event == "end");
        var events = seen.Where(m => m.Event == "event").ToList();
        var stored = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        Assert.Equal(stored.Select(e => e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)), events.Select(m => m.Id));
        Assert.Equal(stored.Select(e => e.Kind), events.Select(m => (string?)m.Data!["kind"]));
        Assert.Contains(events, m => (string?)m.Data!["text"] == "approve approved by user:bob (1/1): go");
        Assert.Equal("completed", (string?)seen.Last(m => m.Event == "run").Data!["status"]);

        // A browser reconnecting sends the last id it had and gets only what came after.
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{runId}/events");
        resume.Headers.Add("Last-Event-ID", "3");
        using var resumed = await viewer.SendAsync(resume);
        var text = await resumed.Content.ReadAsStringAsync();
        Assert.StartsWith("id: 4\n", text, StringComparison.Ordinal);
        Assert.EndsWith("event: end\ndata: {}\n\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_page_and_its_assets_come_from_the_server_with_a_strict_content_security_policy()
    {
        using var http = server.Http(null);
        foreach (var path in new[] { "/", "/runs", "/runs/run_x", "/approvals", "/signin" })
        {
            using var page = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            var policy = string.Join(' ', page.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
            Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
            Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("<script type=\"module\" src=\"/console/app.js\"></script>", html, StringComparison.Ordinal);
            Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
            Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        }

        using var script = await http.GetAsync("/console/app.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var js = await script.Content.ReadAsStringAsync();
        Assert.DoesNotContain("innerHTML", js, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", js, StringComparison.Ordinal);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/console/app.js");
        again.Headers.TryAddWithoutValidation("If-None-Match", script.Headers.ETag!.ToString());
        using var cached = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, cached.StatusCode);
    }

    [Fact]
    public async Task Sessions_end_when_idle_or_old_and_the_store_keeps_only_hashes()
    {
        var time = new ManualTimeProvider();
        var sessions = new ConsoleSessions(server.Store, time, TimeSpan.FromHours(12), TimeSpan.FromHours(1), perToken: 3);
        Assert.Equal(TimeSpan.FromMinutes(5), sessions.TouchEvery);
        var (cookie, session) = await sessions.OpenAsync("hash-of-token", CancellationToken.None);
        Assert.NotEqual(cookie, session.Csrf);
        Assert.Equal(session, await sessions.FindAsync(cookie, CancellationToken.None));
        Assert.Null(await sessions.FindAsync(session.Csrf, CancellationToken.None));
        Assert.Null(await sessions.FindAsync(ConsoleSessions.Key(cookie), CancellationToken.None)); // the stored id is no cookie
        var stored = await server.Store.GetSessionAsync(ConsoleSessions.Key(cookie), CancellationToken.None);
        Assert.Equal("hash-of-token", stored!.TokenHash);

        time.Advance(TimeSpan.FromMinutes(59));
        Assert.NotNull(await sessions.FindAsync(cookie, CancellationToken.None)); // used: the idle hour starts again
        time.Advance(TimeSpan.FromMinutes(59));
        Assert.NotNull(await sessions.FindAsync(cookie, CancellationToken.None));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.NotNull(await sessions.FindAsync(cookie, CancellationToken.None)); // within TouchEvery: not written again
        Assert.Equal(time.GetUtcNow() - TimeSpan.FromMinutes(2), (await server.Store.GetSessionAsync(ConsoleSessions.Key(cookie), CancellationToken.None))!.LastSeen);
        time.Advance(TimeSpan.FromMinutes(58));
        Assert.Null(await sessions.FindAsync(cookie, CancellationToken.None)); // an hour after the recorded use
        Assert.Null(await server.Store.GetSessionAsync(ConsoleSessions.Key(cookie), CancellationToken.None)); // and forgotten

        var (old, _) = await sessions.OpenAsync("a", CancellationToken.None);
        for (var i = 0; i < 11; i++)
        {
            time.Advance(TimeSpan.FromMinutes(59));
            Assert.NotNull(await sessions.FindAsync(old, CancellationToken.None));
        }

        time.Advance(TimeSpan.FromMinutes(59)); // 11 h 48 min of use, then past 12 h: over, however active
        Assert.NotNull(await sessions.FindAsync(old, CancellationToken.None));
        time.Advance(TimeSpan.FromMinutes(13));
        Assert.Null(await sessions.FindAsync(old, CancellationToken.None));

        // One token holds at most perToken sessions: the oldest gives way, so a sign-in always works; others' stay.
        var other = (await sessions.OpenAsync("b", CancellationToken.None)).CookieValue;
        var first = (await sessions.OpenAsync("c", CancellationToken.None)).CookieValue;
        time.Advance(TimeSpan.FromSeconds(1));
        var second = (await sessions.OpenAsync("c", CancellationToken.None)).CookieValue;
        time.Advance(TimeSpan.FromSeconds(1));
        var third = (await sessions.OpenAsync("c", CancellationToken.None)).CookieValue;
        var fourth = (await sessions.OpenAsync("c", CancellationToken.None)).CookieValue;
        Assert.Null(await sessions.FindAsync(first, CancellationToken.None));
        foreach (var live in new[] { other, second, third, fourth })
        {
            Assert.NotNull(await sessions.FindAsync(live, CancellationToken.None));
        }

        var found = (await sessions.FindAsync(fourth, CancellationToken.None))!;
        Assert.True(ConsoleSessions.CsrfMatches(found, found.Csrf));
        Assert.False(ConsoleSessions.CsrfMatches(found, null));
        Assert.False(ConsoleSessions.CsrfMatches(found, (await sessions.FindAsync(third, CancellationToken.None))!.Csrf));
        await sessions.EndAsync(fourth, CancellationToken.None);
        Assert.Null(await sessions.FindAsync(fourth, CancellationToken.None));
    }

    [Fact]
    public async Task A_session_outlives_a_restart_of_the_server_and_its_store_holds_neither_cookie_csrf_nor_token()
    {
        var (cookie, csrf) = await SignInAsync(server.Operator);
        var runId = await StartAsync();
        await server.RestartAsync();

        using (var browser = Browser(cookie))
        {
            var who = await ServerFixture.ReadAsync(await browser.GetAsync("/api/session"));
            Assert.Equal(("olga", csrf), ((string?)who!["name"], (string?)who["csrf"]));
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{runId}/cancel") { Content = ServerFixture.JsonBody("""{"reason":"after the restart"}""") };
            request.Headers.Add(ConsoleSessions.CsrfHeader, csrf);
            using var cancelled = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        }

        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "run.cancel_requested" && e.Actor == "user:olga");

        // Every byte of the database and its WAL: the cookie, its CSRF token and the API token appear nowhere.
        var bytes = string.Join('\n', Directory.GetFiles(Path.GetDirectoryName(server.StorePath)!).Select(f => System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(f))));
        Assert.Contains(ConsoleSessions.Key(cookie), bytes, StringComparison.Ordinal); // what the store does keep
        foreach (var secret in new[] { cookie, csrf, server.Operator })
        {
            Assert.DoesNotContain(secret, bytes, StringComparison.Ordinal);
        }

        // Signed out on the restarted server: ended for every server on the store.
        using (var browser = Browser(cookie))
        {
            using var end = new HttpRequestMessage(HttpMethod.Post, "/api/session/end");
            end.Headers.Add(ConsoleSessions.CsrfHeader, csrf);
            Assert.Equal(HttpStatusCode.OK, (await browser.SendAsync(end)).StatusCode);
        }

        Assert.Null(await server.Store.GetSessionAsync(ConsoleSessions.Key(cookie), CancellationToken.None));
        await server.RestartAsync();
        using var ended = await Browser(cookie).GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.Unauthorized, ended.StatusCode);
    }

    private async Task<(string Cookie, string Csrf)> SignInAsync(string token)
    {
        using var http = server.Http(null);
        using var response = await http.PostAsync("/api/session", ServerFixture.JsonBody($$"""{"token":"{{token}}"}"""));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(token, setCookie, StringComparison.Ordinal);
        var body = await ServerFixture.ReadAsync(response);
        Assert.DoesNotContain(token, body!.ToJsonString(), StringComparison.Ordinal);
        return (setCookie.Split(';')[0].Split('=', 2)[1], (string)body["csrf"]!);
    }

    private HttpClient Browser(string cookie)
    {
        var http = server.Http(null);
        http.DefaultRequestHeaders.Add("Cookie", $"{ConsoleSessions.CookieName}={cookie}");
        return http;
    }

    private async Task<string> StartAsync()
    {
        using var http = server.Http(server.Operator);
        var started = await ServerFixture.ReadAsync(await http.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restart","inputs":{"host":"web-1"}}""")));
        var runId = (string)started!["run"]!["run_id"]!;
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait");
        return runId;
    }
}
