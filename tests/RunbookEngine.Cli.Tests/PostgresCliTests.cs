using System.Text.Json.Nodes;
using RunbookEngine.Testing;

namespace RunbookEngine.Cli.Tests;

/// <summary>The same commands on a PostgreSQL store: selected by --store, with clear errors when it is wrong.</summary>
public sealed class PostgresCliTests : IDisposable
{
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Run_runs_status_and_timeline_work_the_same_on_postgres_and_never_print_the_password()
    {
        var cluster = await PostgresCluster.SharedAsync();
        var schema = "cli_" + Guid.NewGuid().ToString("N")[..12];
        var store = cluster.ConnectionString + ";Password=not-shown-anywhere";
        var env = new Dictionary<string, string> { ["RUNBOOK_PG_SCHEMA"] = schema };
        cli.Write("hello.yaml", "name: hello\nsteps:\n  - id: say\n    action: log\n    with: { message: hi }\n");

        var (code, output, err) = await cli.InvokeAsync("alice", env, CancellationToken.None, "run", "hello", "--store", store, "-o", "json");
        Assert.True(code == 0, err);
        var runId = JsonNode.Parse(output)!["run_id"]!.GetValue<string>();
        Assert.Equal("completed", JsonNode.Parse(output)!["status"]!.GetValue<string>());

        var (listCode, list, _) = await cli.InvokeAsync("bob", env, CancellationToken.None, "runs", "--store", store, "-o", "json");
        Assert.Equal(0, listCode);
        Assert.Equal(runId, Assert.Single(JsonNode.Parse(list)!.AsArray())!["run_id"]!.GetValue<string>());
        var (timelineCode, timeline, _) = await cli.InvokeAsync("bob", env, CancellationToken.None, "timeline", runId, "--store", store);
        Assert.Equal(0, timelineCode);
        Assert.Contains("hash chain intact", timeline, StringComparison.Ordinal);

        var (missingCode, _, missingErr) = await cli.InvokeAsync("bob", env, CancellationToken.None, "status", "run_nope", "--store", store);
        Assert.Equal(2, missingCode);
        Assert.Contains($"no run 'run_nope' in postgres 127.0.0.1:{cluster.Port}/postgres (schema {schema})", missingErr, StringComparison.Ordinal);
        Assert.DoesNotContain("not-shown-anywhere", output + list + timeline + missingErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_postgres_store_is_a_clear_error_with_the_right_exit_code()
    {
        var (badCode, _, badErr) = await cli.InvokeAsync("alice", "runs", "--store", "Host=127.0.0.1;Bogus=1;Password=hunter2");
        Assert.Equal(2, badCode);
        Assert.StartsWith("runbook: --store: The PostgreSQL connection string is not valid", badErr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", badErr, StringComparison.Ordinal);

        var cluster = await PostgresCluster.SharedAsync();
        var (missingCode, _, missingErr) = await cli.InvokeAsync("alice", "runs", "--store", $"postgres://runbook:hunter2@127.0.0.1:{cluster.Port}/no_such_db");
        Assert.Equal(1, missingCode);
        Assert.Contains("database \"no_such_db\" does not exist. Create it first", missingErr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", missingErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", missingErr, StringComparison.Ordinal);
    }
    [Fact]
    public async Task Two_servers_on_one_postgres_store_share_console_sessions_so_a_load_balancer_needs_no_sticky_sessions()
    {
        var cluster = await PostgresCluster.SharedAsync();
        var env = new Dictionary<string, string> { ["RUNBOOK_STORE"] = cluster.ConnectionString, ["RUNBOOK_PG_SCHEMA"] = "sessions_" + Guid.NewGuid().ToString("N")[..12] };
        var tokens = Path.Combine(cli.Directory, "tokens.yaml");
        var (created, made, err) = await cli.RunProcessAsync("ops", string.Empty, "token", "create", "olga", "--role", "operator", "--tokens", tokens);
        Assert.True(created == 0, err);

        var (a, urlA, _) = await cli.ServeAsync(env, "--tokens", tokens);
        var (b, urlB, _) = await cli.ServeAsync(env, "--tokens", tokens);
        using (a)
        using (b)
        {
            try
            {
                using var signIn = new HttpClient();
                using var opened = await signIn.PostAsync(urlA + "/api/session", new StringContent($$"""{"token":"{{made.Trim()}}"}""", System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(System.Net.HttpStatusCode.Created, opened.StatusCode);
                var cookie = opened.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
                var csrf = (string)JsonNode.Parse(await opened.Content.ReadAsStringAsync())!["csrf"]!;

                using var browser = new HttpClient();
                browser.DefaultRequestHeaders.Add("Cookie", cookie);
                using (var onB = await browser.GetAsync(urlB + "/api/session"))
                {
                    Assert.Equal(System.Net.HttpStatusCode.OK, onB.StatusCode);
                    var who = JsonNode.Parse(await onB.Content.ReadAsStringAsync())!;
                    Assert.Equal(("olga", csrf), ((string?)who["name"], (string?)who["csrf"]));
                }

                // Signed out on B: A refuses the cookie too.
                using (var end = new HttpRequestMessage(HttpMethod.Post, urlB + "/api/session/end"))
                {
                    end.Headers.Add("X-Runbook-CSRF", csrf);
                    using var ended = await browser.SendAsync(end);
                    Assert.Equal(System.Net.HttpStatusCode.OK, ended.StatusCode);
                }

                using var onA = await browser.GetAsync(urlA + "/api/runs");
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, onA.StatusCode);
            }
            finally
            {
                a.Kill(entireProcessTree: true);
                b.Kill(entireProcessTree: true);
                await Task.WhenAll(a.WaitForExitAsync(), b.WaitForExitAsync()).WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
    }
}
