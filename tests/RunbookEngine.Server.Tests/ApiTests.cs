using System.Net;
using System.Text.RegularExpressions;

namespace RunbookEngine.Server.Tests;

public sealed partial class ApiTests : IAsyncLifetime
{
    private const string Gated = """
        name: gated-restart
        description: Restart a host after an on-call engineer approves.
        inputs:
          host: { type: string, required: true }
        steps:
          - id: approve
            approval:
              approvers: ["group:sre-oncall"]
          - id: restart
            action: log
            with: { message: "restarting ${{ inputs.host }}" }
        outputs:
          host: "${{ inputs.host }}"
        """;

    private readonly ServerFixture server = new();

    public async Task InitializeAsync()
    {
        server.Write("gated-restart.yaml", Gated);
        await server.StartAsync(maxBody: 64 * 1024);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Calls_without_a_valid_token_get_401_and_change_nothing()
    {
        foreach (var token in new[] { null, "rbk_wrong", server.Operator + "x" })
        {
            using var http = server.Http(token);
            using var response = await http.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restart","inputs":{"host":"web-1"}}"""));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            var error = await ServerFixture.ReadAsync(response);
            Assert.Equal("unauthorized", (string?)error!["error"]!["kind"]);
        }

        Assert.Empty(await server.Store.ListRunsAsync(new() { Limit = 10 }, CancellationToken.None));
        using var anonymous = server.Http(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task Roles_decide_what_a_token_may_do()
    {
        const string start = """{"runbook":"gated-restart","inputs":{"host":"web-1"}}""";
        using (var viewer = server.Http(server.Viewer))
        {
            Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/runbooks")).StatusCode);
            using var refused = await viewer.PostAsync("/api/runs", ServerFixture.JsonBody(start));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("token 'vic' has role viewer; this needs operator or admin", (string?)(await ServerFixture.ReadAsync(refused))!["error"]!["message"], StringComparison.Ordinal);
        }

        using (var approver = server.Http(server.Approver))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await approver.PostAsync("/api/runs", ServerFixture.JsonBody(start))).StatusCode);
        }

        string runId;
        using (var op = server.Http(server.Operator))
        {
            using var created = await op.PostAsync("/api/runs", ServerFixture.JsonBody(start));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            runId = (string)(await ServerFixture.ReadAsync(created))!["run"]!["run_id"]!;
            Assert.Equal($"/api/runs/{runId}", created.Headers.Location!.OriginalString);
            Assert.Equal(HttpStatusCode.Forbidden, (await op.PostAsync($"/api/runs/{runId}/approve", ServerFixture.JsonBody("{}"))).StatusCode);
        }

        Assert.Single(await server.Store.ListRunsAsync(new() { Limit = 10 }, CancellationToken.None));
        using var admin = server.Http(server.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/runs/{runId}/cancel", ServerFixture.JsonBody("""{"reason":"test over"}"""))).StatusCode);
    }

    [Fact]
    public async Task A_revoked_token_is_refused_at_once_without_a_restart()
    {
        using var http = server.Http(server.Viewer);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/runs")).StatusCode);
        Assert.True(new ApiTokenFile(server.TokensPath).Revoke("vic", TimeProvider.System.GetUtcNow()));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/runs")).StatusCode);
        using var admin = server.Http(server.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/runs")).StatusCode);
    }

    [Fact]
    public async Task An_approval_through_the_api_records_the_token_identity_and_tokens_are_stored_only_hashed()
    {
        var (code, runId, err) = await server.RemoteAsync(server.Operator, "run", "gated-restart", "-p", "host=web-1", "--detach");
        Assert.True(code == 0, err);
        runId = runId.Trim();
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "waiting", "the run to wait for approval");

        // Four-eyes and group rules apply to token identities exactly as to local users.
        var refused = await server.RemoteAsync(server.Admin, "approve", runId);
        Assert.Equal(1, refused.Code);
        Assert.Contains("ada is not an approver of this step", refused.Err, StringComparison.Ordinal);

        var approved = await server.RemoteAsync(server.Approver, "approve", runId, "-m", "looks right");
        Assert.True(approved.Code == 0, approved.Err);
        Assert.Contains($"approved step 'approve' of run {runId} as user:bob", approved.Out, StringComparison.Ordinal);
        await server.WaitUntilAsync(async () => await server.RunStatusAsync(runId) == "completed", "the run to complete");

        var timeline = await server.RemoteAsync(server.Viewer, "timeline", runId);
        Assert.Equal(0, timeline.Code);
        Assert.Contains("gated-restart started by user:olga", timeline.Out, StringComparison.Ordinal);
        Assert.Contains("approve approved by user:bob (1/1): looks right", timeline.Out, StringComparison.Ordinal);
        Assert.Contains("decision by user:ada refused", timeline.Out, StringComparison.Ordinal);
        Assert.Contains("hash chain intact", timeline.Out, StringComparison.Ordinal);

        await server.Store.DisposeAsync();
        foreach (var file in new[] { server.TokensPath, server.StorePath, server.StorePath + "-wal" }.Where(File.Exists))
        {
            var bytes = await File.ReadAllTextAsync(file);
            foreach (var token in new[] { server.Admin, server.Operator, server.Approver, server.Viewer })
            {
                Assert.DoesNotContain(token, bytes, StringComparison.Ordinal);
                Assert.DoesNotContain(token[4..20], bytes, StringComparison.Ordinal);
            }
        }

        Assert.Contains(ApiTokenFile.Hash(server.Operator), await File.ReadAllTextAsync(server.TokensPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_wrong_and_oversized_requests_get_400_413_and_404_with_the_reason()
    {
        using var http = server.Http(server.Operator);
        async Task<(HttpStatusCode, string)> Post(string path, HttpContent body)
        {
            using var r = await http.PostAsync(path, body);
            return (r.StatusCode, (string?)(await ServerFixture.ReadAsync(r))?["error"]?["message"] ?? string.Empty);
        }

        var (status, message) = await Post("/api/runs", ServerFixture.JsonBody("{\"runbook\": "));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("the body is not valid JSON for this request", message, StringComparison.Ordinal);

        (status, message) = await Post("/api/runs", new StringContent("runbook=x", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("must be JSON", message, StringComparison.Ordinal);

        (status, message) = await Post("/api/runs", ServerFixture.JsonBody("""{"inputs":{}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("needs 'runbook'", message, StringComparison.Ordinal);

        (status, message) = await Post("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restart"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        using (var r = await http.PostAsync("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restart"}""")))
        {
            var problems = (await ServerFixture.ReadAsync(r))!["error"]!["problems"]!.AsArray();
            Assert.Contains("host", (string?)problems[0]!["message"], StringComparison.Ordinal);
        }

        (status, message) = await Post("/api/runs", ServerFixture.JsonBody("""{"runbook":"runbooks/gated-restart.yaml"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("runs runbooks by name", message, StringComparison.Ordinal);

        (status, message) = await Post("/api/runs", ServerFixture.JsonBody("""{"runbook":"gated-restrat"}"""));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("did you mean 'gated-restart'", message, StringComparison.Ordinal);

        (status, message) = await Post("/api/runs", ServerFixture.JsonBody("{\"runbook\":\"" + new string('x', 70 * 1024) + "\"}"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("larger than 65536 bytes", message, StringComparison.Ordinal);

        using var missing = await http.GetAsync("/api/runs/run_nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var unknown = await http.GetAsync("/api/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Empty(await server.Store.ListRunsAsync(new() { Limit = 10 }, CancellationToken.None));
    }

    [Fact]
    public async Task The_remote_cli_prints_what_the_embedded_cli_prints_with_the_same_exit_codes()
    {
        server.Write("broken.yaml", "name: broken\nsteps:\n  - id: a\n    action: nope\n");
        string[][] commands =
        [
            ["list"],
            ["validate", server.RunbooksDir],
            ["run", "disk-full-cleanup", "-p", "path=/nonexistent-dir", "--dry-run", "-o", "json"],
            ["run", "gated-restart"],
            ["runs", "-o", "json"],
            ["status", "LAST"],
            ["timeline", "LAST", "--format", "md"],
            ["cancel", "LAST"],
            ["approve", "LAST"],
            ["retry", "LAST", "--from-step", "nope"],
            ["status", "run_does_not_exist"],
            ["run", "gated-restrat"],
        ];

        int[] expected = [0, 2, 0, 2, 0, 0, 0, 1, 1, 2, 2, 2];
        foreach (var (command, code) in commands.Zip(expected))
        {
            var remoteArgs = await WithLastRunAsync(command, remote: true);
            var embeddedArgs = await WithLastRunAsync(command, remote: false);
            var remote = await server.RemoteAsync(server.Admin, remoteArgs);
            var embedded = await server.EmbeddedAsync("ada", string.Empty, embeddedArgs);
            var what = string.Join(' ', command);
            Assert.True(embedded.Code == code && remote.Code == code, $"{what}: exit {embedded.Code} embedded, {remote.Code} remote, {code} expected\n{embedded.Err}\n{remote.Err}");
            Assert.Equal(Normalize(embedded.Out), Normalize(remote.Out));
            Assert.Equal(Normalize(embedded.Err), Normalize(remote.Err));
        }
    }

    private async Task<string[]> WithLastRunAsync(string[] command, bool remote)
    {
        if (!command.Contains("LAST"))
        {
            return command;
        }

        var list = remote ? await server.RemoteAsync(server.Viewer, "runs", "--limit", "1") : await server.EmbeddedAsync("olga", string.Empty, "runs", "--limit", "1");
        var last = RunId().Match(list.Out).Value;
        return [.. command.Select(a => a == "LAST" ? last : a)];
    }

    /// <summary>What differs by nature between two stores: run ids, times, hashes, durations, worker ids and paths.</summary>
    private string Normalize(string text)
    {
        text = text.Replace(Path.Combine(server.Directory, "embedded", "runbook.db"), "STORE", StringComparison.Ordinal)
            .Replace(server.StorePath, "STORE", StringComparison.Ordinal);
        text = RunId().Replace(text, "RUN");
        text = Regex.Replace(text, @"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "TIME");
        text = Regex.Replace(text, @"\b\d\d:\d\d:\d\d\b", "TIME");
        text = Regex.Replace(text, @"\b[0-9a-f]{12,64}\b", "HASH");
        text = Regex.Replace(text, @"in [0-9.]+ ms", "in N ms");
        text = Regex.Replace(text, @"""duration_ms"": [0-9.]+", "\"duration_ms\": N");
        text = Regex.Replace(text, @"worker:[A-Za-z0-9-]+", "worker:W");
        text = Regex.Replace(text, @"""worker"": ""[^""]+""", "\"worker\": \"W\"");
        return text;
    }

    [GeneratedRegex("run_[0-9a-f]{32}")]
    private static partial Regex RunId();
}
