using RunbookEngine.Workflows;

namespace RunbookEngine.Workflows.Tests;

public sealed class WorkflowDefinitionTests
{
    [Fact]
    public void The_hash_depends_on_name_and_content_only()
    {
        var a = new WorkflowDefinition("restart", "steps: [a]");
        Assert.Equal(a.Hash, new WorkflowDefinition("restart", "steps: [a]").Hash);
        Assert.NotEqual(a.Hash, new WorkflowDefinition("restart", "steps: [b]").Hash);
        Assert.NotEqual(a.Hash, new WorkflowDefinition("restart2", "steps: [a]").Hash);
        Assert.Matches("^[0-9a-f]{64}$", a.Hash);
    }

    [Fact]
    public async Task Registering_a_new_version_keeps_the_old_one_resolvable()
    {
        var registry = new WorkflowRegistry();
        var v1 = registry.Add("wf", _ => Task.FromResult<System.Text.Json.Nodes.JsonNode?>(null), "1");
        var v2 = registry.Add("wf", _ => Task.FromResult<System.Text.Json.Nodes.JsonNode?>(null), "2");
        Assert.Equal(v2.Hash, registry.Get("wf").Hash);
        Assert.NotNull(await registry.ResolveAsync(v1, CancellationToken.None));
        Assert.Null(await registry.ResolveAsync(new WorkflowDefinition("wf", "code:3"), CancellationToken.None));
        Assert.Contains("'nope'", Assert.Throws<KeyNotFoundException>(() => registry.Get("nope")).Message, StringComparison.Ordinal);
    }
}
