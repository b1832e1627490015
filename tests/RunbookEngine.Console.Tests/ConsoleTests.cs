using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace RunbookEngine.Console.Tests;

/// <summary>The web console in a real browser (Debian's Chromium) against a real server on 127.0.0.1.</summary>
public sealed class ConsoleTests : IAsyncLifetime
{
    private readonly ConsoleFixture server = new();

    public async Task InitializeAsync() => await server.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task An_invalid_token_is_refused_on_the_sign_in_page_and_gets_no_session()
    {
        var page = await server.PageAsync();
        await page.GotoAsync("/runs");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin\\?next=%2Fruns$"));
        await page.GetByLabel("API token").FillAsync("rbk_not-a-real-token");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("the token is not valid (unknown or revoked)");
        await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "signin-refused.png") });
        Assert.Empty(await page.Context.CookiesAsync());
        Assert.Equal("/signin", new Uri(page.Url).AbsolutePath);
    }

    [Fact]
    public async Task An_approver_watches_a_waiting_run_approves_it_by_clicking_and_sees_the_timeline_update_without_reload()
    {
        var runId = await server.StartRunAsync("gated-restart", """{"host":"web-7"}""");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Approver, "/runs/" + runId);
        await Expect(page.GetByTestId("who")).ToHaveTextAsync("bob (approver)");

        var approval = page.GetByTestId("approval");
        await Expect(approval).ToContainTextAsync("Restart web-7?");
        await Expect(approval).ToContainTextAsync("group:sre-oncall");
        await Expect(approval).ToContainTextAsync("yes: user:olga (who started it) cannot approve");
        await Expect(page.GetByTestId("live")).ToHaveTextAsync("live");
        await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "run-waiting.png"), FullPage = true });

        // A mark on the window: a reload would lose it.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        await page.GetByLabel("Comment").FillAsync("checked the dashboards");
        await approval.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("Approved as user:bob.");

        var timeline = page.GetByTestId("timeline");
        await Expect(timeline.Locator("li[data-kind='approval.granted']")).ToContainTextAsync("approve approved by user:bob");
        await Expect(timeline.Locator("li[data-kind='approval.granted']")).ToContainTextAsync("checked the dashboards");
        await Expect(timeline.Locator("li[data-kind='run.completed']")).ToHaveCountAsync(1);
        await Expect(page.Locator("main > .row").First).ToHaveTextAsync("completedgated-restart");
        await Expect(page.Locator("main")).Not.ToContainTextAsync("undefined");
        await Expect(page.GetByTestId("live")).ToHaveTextAsync("ended");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "run-completed.png"), FullPage = true });

        // The decision is the approver's, recorded in the timeline as the CLI's would be.
        Assert.Equal("completed", await server.StatusAsync(runId));
        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        var granted = Assert.Single(events, e => e.Kind == "approval.granted");
        Assert.Contains("\"by\":\"user:bob\"", granted.Data, StringComparison.Ordinal);
        Assert.Contains("checked the dashboards", granted.Data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_sees_the_gate_but_no_buttons_and_its_session_is_refused_by_the_api()
    {
        var runId = await server.StartRunAsync("gated-restart", """{"host":"web-8"}""");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Viewer, "/runs/" + runId);
        var approval = page.GetByTestId("approval");
        await Expect(approval.GetByTestId("refusal")).ToHaveTextAsync("You cannot decide this: token 'vic' has role viewer; this needs approver or admin");
        await Expect(approval.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel run" })).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "run-viewer.png"), FullPage = true });

        // What the page hides, the API refuses: the viewer's own session, with its CSRF token, trying anyway.
        var status = await page.EvaluateAsync<int>(
            """
            async (id) => {
              const who = await (await fetch("/api/session")).json();
              const r = await fetch(`/api/runs/${id}/approve`, { method: "POST", headers: { "Content-Type": "application/json", "X-Runbook-CSRF": who.csrf }, body: "{}" });
              return r.status;
            }
            """,
            runId);
        Assert.Equal(403, status);
        Assert.Equal("waiting", await server.StatusAsync(runId));
    }

    [Fact]
    public async Task The_starter_of_a_run_sees_why_a_four_eyes_gate_is_not_theirs_and_another_approver_sees_it_waiting_for_them()
    {
        var runId = await server.StartRunAsync("self-approved", token: server.Admin);
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Admin, "/approvals");
        var card = page.Locator("[data-testid='approval']", new() { HasText = runId });
        await Expect(card.GetByTestId("refusal")).ToHaveTextAsync("You cannot decide this: four-eyes: ada started this run and cannot decide its approval; another approver must");
        await Expect(page.GetByTestId("mine")).ToHaveCountAsync(0);

        var bob = await server.PageAsync();
        await ConsoleFixture.SignInAsync(bob, server.Approver, "/approvals");
        var mine = bob.GetByTestId("mine").Locator("[data-testid='approval']", new() { HasText = runId });
        await Expect(mine.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync();
        await bob.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "approvals.png"), FullPage = true });
        await mine.GetByRole(AriaRole.Button, new() { Name = "Reject" }).ClickAsync();
        await Expect(bob.GetByText("Nothing is waiting for you.")).ToBeVisibleAsync();

        // The rejection wakes the run, and a worker ends it a moment later: the run page's live timeline shows it.
        await bob.GotoAsync("/runs/" + runId);
        await Expect(bob.GetByTestId("timeline").Locator("li[data-kind='run.failed']")).ToHaveCountAsync(1);
        Assert.Equal("failed", await server.StatusAsync(runId));
    }

    [Fact]
    public async Task A_change_without_the_csrf_token_is_refused_and_the_session_cookie_is_httponly_and_samesite_strict()
    {
        var runId = await server.StartRunAsync("gated-restart", """{"host":"web-9"}""");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Operator);
        var cookie = Assert.Single(await page.Context.CookiesAsync());
        Assert.Equal("runbook_session", cookie.Name);
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.False(cookie.Secure); // plain HTTP on 127.0.0.1; Secure whenever the server has TLS
        Assert.Equal(string.Empty, await page.EvaluateAsync<string>("() => document.cookie"));

        var answer = await page.EvaluateAsync<string>(
            """
            async (id) => {
              const r = await fetch(`/api/runs/${id}/cancel`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
              return r.status + " " + (await r.json()).error.message;
            }
            """,
            runId);
        Assert.Equal("403 a change made with the console's session needs its CSRF token in X-Runbook-CSRF", answer);
        Assert.Equal("waiting", await server.StatusAsync(runId));

        // The session cookie alone does not authenticate another origin's request either: the browser withholds it.
        using var plain = server.Http(null);
        plain.DefaultRequestHeaders.Add("Cookie", $"runbook_session={cookie.Value}");
        using var cancel = await plain.PostAsync($"/api/runs/{runId}/cancel", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, cancel.StatusCode);

        // With the token the page holds, the operator cancels by clicking, and the timeline says who.
        await page.GotoAsync("/runs/" + runId);
        await Expect(page.GetByTestId("live")).ToHaveTextAsync("live");
        await page.GetByLabel("Cancel reason").FillAsync("wrong host");

        // A live update while the reason is typed (someone else's refused approval) must not wipe it.
        var refreshed = await page.GetByTestId("timeline").GetAttributeAsync("data-refreshed");
        using (var other = server.Http(server.Admin))
        {
            using var tried = await other.PostAsync($"/api/runs/{runId}/approve", new StringContent("{}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, tried.StatusCode);
        }

        await Expect(page.GetByTestId("timeline").Locator("li[data-kind='approval.refused']")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("timeline")).Not.ToHaveAttributeAsync("data-refreshed", refreshed!);
        await Expect(page.GetByLabel("Cancel reason")).ToHaveValueAsync("wrong host");
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel run" }).ClickAsync();
        await Expect(page.GetByTestId("timeline").Locator("li[data-kind='run.cancel_requested']")).ToContainTextAsync("cancel requested by user:olga: wrong host");
        await Expect(page.GetByTestId("timeline").Locator("li[data-kind='run.cancelled']")).ToHaveCountAsync(1);
        var events = await server.Store.GetTimelineAsync(runId, 0, 1000, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "run.cancel_requested" && e.Actor == "user:olga");
    }

    [Fact]
    public async Task Revoking_the_token_ends_its_console_session_and_signing_out_ends_it_at_once()
    {
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Viewer);
        var cookie = Assert.Single(await page.Context.CookiesAsync()).Value;
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin$"));
        using (var old = server.Http(null))
        {
            old.DefaultRequestHeaders.Add("Cookie", $"runbook_session={cookie}");
            using var answer = await old.GetAsync("/api/runs");
            Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        }

        await ConsoleFixture.SignInAsync(page, server.Viewer);
        Assert.True(server.Tokens.Revoke("vic", TimeProvider.System.GetUtcNow()));
        await page.GetByRole(AriaRole.Link, new() { Name = "Alerts" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin\\?next=%2Falerts$"));
    }

    [Fact]
    public async Task The_runs_list_filters_and_pages_older_runs_by_cursor()
    {
        var started = new List<string>();
        for (var i = 0; i < 55; i++)
        {
            started.Add(await server.StartRunAsync("quick", dryRun: true));
        }

        var gated = await server.StartRunAsync("gated-restart", """{"host":"web-1"}""");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Viewer);
        var rows = page.Locator("table.runs tbody tr");
        await Expect(rows).ToHaveCountAsync(50);
        await Expect(rows.First).ToContainTextAsync(gated);
        await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "runs.png"), FullPage = true });
        var first = await rows.Locator("td:first-child").AllInnerTextsAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "Older runs →" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(6);
        var second = await rows.Locator("td:first-child").AllInnerTextsAsync();
        Assert.Equal([.. started, gated], first.Concat(second).Order(StringComparer.Ordinal), StringComparer.Ordinal);
        Assert.Empty(first.Intersect(second));
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Older runs →" })).ToHaveCountAsync(0);

        await page.GetByRole(AriaRole.Link, new() { Name = "Newest runs" }).ClickAsync();
        await page.GetByLabel("Runbook").FillAsync("gated-restart");
        await page.GetByLabel("Status").SelectOptionAsync("waiting");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToContainTextAsync(gated);
        Assert.Contains("status=waiting", page.Url, StringComparison.Ordinal);

        await page.GetByLabel("Status").SelectOptionAsync("");
        await page.GetByLabel("Runbook").FillAsync(string.Empty);
        await page.GetByLabel("Started by").SelectOptionAsync("alert:");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Expect(page.GetByText("No runs match.")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_long_timeline_opens_on_its_newest_500_events_and_shows_the_earlier_ones_on_request()
    {
        var runId = await server.StartRunAsync("long");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Viewer, "/runs/" + runId);
        var timeline = page.GetByTestId("timeline");
        await Expect(timeline.Locator("li[data-kind='run.completed']")).ToHaveCountAsync(1); // the live page saw it end

        var total = (await server.Store.GetTimelineAsync(runId, 0, 10_000, CancellationToken.None)).Count;
        Assert.True(total > 500, $"{total} events");
        var timelineRequests = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.Request += (_, r) =>
        {
            if (r.Url.Contains("/timeline", StringComparison.Ordinal))
            {
                timelineRequests.Enqueue(new Uri(r.Url).PathAndQuery);
            }
        };
        await page.ReloadAsync();
        var more = page.GetByRole(AriaRole.Button, new() { Name = $"Show {total - 500} earlier event(s)" });
        await Expect(more).ToBeVisibleAsync();
        await Expect(timeline.Locator("li[data-kind]")).ToHaveCountAsync(500);
        await Expect(timeline.Locator("li[data-kind]").Last).ToHaveAttributeAsync("data-kind", "run.completed");
        await Expect(page.GetByTestId("chain")).ToContainTextAsync($"intact over {total} event(s)");

        // Only the newest 500 travelled, with the old trigger and guard events; the rest comes on the click.
        Assert.Equal([$"/api/runs/{runId}/timeline?kind=run.created&kind=guard.", $"/api/runs/{runId}/timeline?last=500"], timelineRequests.Order(StringComparer.Ordinal));

        await more.ClickAsync();
        await Expect(timeline.Locator("li[data-kind]")).ToHaveCountAsync(total);
        await Expect(timeline.Locator("li[data-kind]").First).ToHaveAttributeAsync("data-kind", "run.created");
        await Expect(more).ToHaveCountAsync(0);
        Assert.Equal(3, timelineRequests.Count);
        Assert.StartsWith($"/api/runs/{runId}/timeline?before=", timelineRequests.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_runbooks_page_shows_each_runbooks_triggers_and_its_last_run()
    {
        await server.StartRunAsync("quick");
        var newest = await server.StartRunAsync("quick");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Viewer, "/runbooks");

        var targeted = page.Locator("tr[data-runbook='targeted']");
        await Expect(targeted.GetByTestId("triggers")).ToHaveTextAsync("alertmanager: alertname = DbDown, severity =~ critical|page (dry-run)");
        await Expect(targeted.GetByTestId("last-run")).ToHaveTextAsync("never ran");
        await Expect(page.Locator("tr[data-runbook='quick']").GetByTestId("triggers")).ToHaveTextAsync("started by hand");
        var last = page.Locator("tr[data-runbook='quick']").GetByTestId("last-run");
        await Expect(last).ToContainTextAsync(newest);
        await Expect(last).ToContainTextAsync("user:olga");
        await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, "runbooks.png"), FullPage = true });

        await last.GetByRole(AriaRole.Link, new() { Name = newest }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/runs/" + newest + "$"));
    }

    [Fact]
    public async Task The_runs_on_one_target_are_a_filter_and_a_link_from_the_guards_page()
    {
        var onA = await server.StartRunAsync("targeted", """{"host":"db-a"}""");
        var onB = await server.StartRunAsync("targeted", """{"host":"db-b"}""");
        var page = await server.PageAsync();
        await ConsoleFixture.SignInAsync(page, server.Viewer);
        var rows = page.Locator("table.runs tbody tr");

        await page.GetByLabel("Target").FillAsync("targeted/db-a");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToContainTextAsync(onA);
        Assert.Contains("target=targeted%2Fdb-a", page.Url, StringComparison.Ordinal);

        await page.GetByRole(AriaRole.Link, new() { Name = "Guards" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "db-b" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToContainTextAsync(onB);
        await Expect(page.GetByLabel("Target")).ToHaveValueAsync("targeted/db-b");

        // The run's page lists the guard's decision (fetched beside the newest events, however long the timeline).
        await page.GotoAsync(server.Url + "/runs/" + onB);
        var decisions = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Guard and breaker decisions" }) }).Locator("li");
        await Expect(decisions).Not.ToHaveCountAsync(0);
        await Expect(decisions.First).Not.ToHaveTextAsync("none recorded");
        await Expect(decisions.First).ToContainTextAsync("db-b");
    }

    [Fact]
    public async Task Every_page_renders_from_phone_width_to_a_wide_screen_with_nothing_fetched_from_elsewhere()
    {
        await server.StartRunAsync("gated-restart", """{"host":"web-2"}""");
        var elsewhere = new List<string>();
        foreach (var (width, name) in new[] { (390, "phone"), (1440, "wide") })
        {
            var page = await server.PageAsync(width, 900);
            page.Request += (_, request) =>
            {
                if (!request.Url.StartsWith(server.Url, StringComparison.Ordinal))
                {
                    elsewhere.Add(request.Url);
                }
            };
            var errors = new List<string>();
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    errors.Add(message.Text);
                }
            };
            await ConsoleFixture.SignInAsync(page, server.Admin);
            foreach (var (link, heading) in new[] { ("Runs", "Runs"), ("Approvals", "Approvals"), ("Alerts", "Alerts"), ("Runbooks", "Runbooks"), ("Guards", "Guards and breakers"), ("Drills", "Drills") })
            {
                await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = link, Exact = true }).ClickAsync();
                await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync(heading);
                if (link == "Runs")
                {
                    await Expect(page.GetByRole(AriaRole.Table)).ToContainTextAsync("gated-restart");
                }

                await page.ScreenshotAsync(new() { Path = Path.Combine(ConsoleFixture.Screenshots, $"{link.ToLowerInvariant()}-{name}.png"), FullPage = true });

                // Readable at this width: nothing wider than the screen but tables, which scroll in their own box.
                Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), $"{link} is wider than {width}px");
            }

            Assert.Empty(errors);
        }

        Assert.Empty(elsewhere);
    }

    [Fact]
    public async Task The_console_is_keyboard_usable_from_the_sign_in_to_an_approval()
    {
        var runId = await server.StartRunAsync("gated-restart", """{"host":"web-3"}""");
        var page = await server.PageAsync();
        await page.GotoAsync("/signin?next=" + Uri.EscapeDataString("/runs/" + runId));
        await Expect(page.GetByLabel("API token")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(server.Approver);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("approval")).ToBeVisibleAsync();
        await page.GetByLabel("Comment").FocusAsync();
        await page.Keyboard.TypeAsync("by keyboard");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("timeline").Locator("li[data-kind='approval.granted']")).ToContainTextAsync("by keyboard");
    }
}
