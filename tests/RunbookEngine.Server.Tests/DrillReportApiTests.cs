using System.Net;
using System.Text.Json.Nodes;

namespace RunbookEngine.Server.Tests;

/// <summary>Drill reports over the API: an operator stores one, a viewer lists and reads them, nobody else.</summary>
public sealed class DrillReportApiTests : IAsyncLifetime
{
    private const string Report = """
        {"drill":"disk-full-on-web-1","file":"drills/disk-full.drill.yaml","runbook":"disk-full-cleanup","passed":false,
         "checks":[{"name":"outcome","passed":true},{"name":"mttr","passed":false}],"status":"completed","mttd":"00:01:30","mttr":"00:20:00"}
        """;

    private readonly ServerFixture server = new();

    public Task InitializeAsync() => server.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task An_operator_stores_a_drill_report_with_who_ran_it_and_a_viewer_lists_and_reads_it()
    {
        using var op = server.Http(server.Operator);
        using var created = await op.PostAsync("/api/drills", ServerFixture.JsonBody($$"""{"mode":"replay","report":{{Report}}}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var saved = (await ServerFixture.ReadAsync(created))!;
        var id = (long)saved["id"]!;
        Assert.Equal("disk-full-on-web-1", (string?)saved["drill"]);
        Assert.False((bool)saved["passed"]!);
        Assert.Equal(["mttr"], saved["failed"]!.AsArray().Select(f => (string?)f));
        Assert.Equal(90.0, (double)saved["mttd_seconds"]!);
        Assert.Null(saved["report"]);

        using var viewer = server.Http(server.Viewer);
        var list = (await ServerFixture.ReadAsync(await viewer.GetAsync("/api/drills?drill=disk-full-on-web-1&passed=false")))!.AsArray();
        var entry = Assert.Single(list)!;
        Assert.Equal(id, (long)entry["id"]!);
        Assert.StartsWith("user:", (string?)entry["by"], StringComparison.Ordinal);
        Assert.Equal("replay", (string?)entry["mode"]);
        Assert.Empty((await ServerFixture.ReadAsync(await viewer.GetAsync("/api/drills?passed=true")))!.AsArray());

        var whole = (await ServerFixture.ReadAsync(await viewer.GetAsync($"/api/drills/{id}")))!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Report), whole["report"]));
        Assert.Equal(1200.0, (double)whole["mttr_seconds"]!);
    }

    [Fact]
    public async Task A_viewer_may_not_store_a_report_and_a_report_without_its_fields_is_refused_naming_them()
    {
        using var viewer = server.Http(server.Viewer);
        using var refused = await viewer.PostAsync("/api/drills", ServerFixture.JsonBody($$"""{"report":{{Report}}}"""));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var op = server.Http(server.Operator);
        foreach (var (body, says) in new[]
        {
            ("""{"report":{"runbook":"x","passed":true,"checks":[]}}""", "'drill'"),
            ("""{"report":{"drill":"x","runbook":"y","passed":"yes","checks":[]}}""", "'passed'"),
            ("""{"report":{"drill":"x","runbook":"y","passed":true}}""", "'checks'"),
            ("""{"mode":"rehearsal","report":{"drill":"x","runbook":"y","passed":true,"checks":[]}}""", "replay or live"),
        })
        {
            using var response = await op.PostAsync("/api/drills", ServerFixture.JsonBody(body));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains(says, (string?)(await ServerFixture.ReadAsync(response))!["error"]!["message"], StringComparison.Ordinal);
        }

        Assert.Empty(await server.Store.ListDrillReportsAsync(new(), CancellationToken.None));
    }
}
