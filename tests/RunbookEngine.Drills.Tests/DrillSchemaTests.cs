using System.Text.Json;
using Json.Schema;
using RunbookEngine.Runbooks.Yaml;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Drills.Tests;

/// <summary>The drill JSON Schema editors use: checked in as printed, every example drill valid against it.</summary>
public sealed class DrillSchemaTests
{
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(DrillSchema.Text(DrillHost.Actions)));

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(DrillHost.Examples, "drills"), "*.drill.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }

    /// <summary>The schema's errors for a drill's YAML, empty when it is valid.</summary>
    internal static string Errors(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var json = JsonSerializer.SerializeToElement(YamlFields.ScalarOrTree(stream.Documents[0].RootNode));
        var result = Schema.Value.Evaluate(json, new EvaluationOptions { OutputFormat = OutputFormat.List });
        return result.IsValid ? string.Empty : string.Join('\n', (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));
    }

    [Fact]
    public void The_checked_in_schema_is_what_runbook_schema_drill_prints()
    {
        var file = Path.Combine(DrillHost.Examples, "schema", "drill.schema.json");
        Assert.True(
            File.ReadAllText(file).ReplaceLineEndings("\n") == DrillSchema.Text(DrillHost.Actions),
            "schema/drill.schema.json is out of date: run `./runbook schema --drill > schema/drill.schema.json`");
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_example_drill_is_valid_against_the_schema_and_points_editors_at_it(string file)
    {
        var text = File.ReadAllText(Path.Combine(DrillHost.Examples, "drills", file));
        Assert.StartsWith("# yaml-language-server: $schema=../schema/drill.schema.json", text, StringComparison.Ordinal);
        Assert.Equal(string.Empty, Errors(text));
    }

    [Fact]
    public void What_the_parser_refuses_the_schema_refuses_too()
    {
        Assert.NotEqual(string.Empty, Errors("drill: x\nrunbook: y\nrun: {}\nexpct: { outcome: completed }\n"));
        Assert.NotEqual(string.Empty, Errors("drill: x\nrunbook: y\nrun: {}\nsteps:\n  a: { calls: [{ respond: {}, fail: Boom }] }\nexpect: { outcome: completed }\n"));
        Assert.NotEqual(string.Empty, Errors("drill: x\nrunbook: y\nrun: {}\nactions:\n  shel: { respond: {} }\nexpect: { outcome: completed }\n"));
        Assert.NotEqual(string.Empty, Errors("drill: x\nrunbook: y\nrun: {}\nexpect: { outcome: succeeded }\n"));
        Assert.Equal(string.Empty, Errors("drill: x\nrunbook: y\nrun: {}\nexpect: { outcome: completed, mttr: \"<= 15m\" }\n"));
        const string Head = "drill: x\nrunbook: y\nrun: {}\nexpect: { attempts: { a: 2 } }\nfaults:\n";
        Assert.Equal(string.Empty, Errors(Head + "  - { worker_dies: a, attempt: 2, restart_after: 5s }\n  - { store_unreachable: 1m, at: 5m }\n  - { store_unreachable: 1m, during: a }\n"));
        Assert.NotEqual(string.Empty, Errors(Head + "  - { worker_dies: a, at: 1m }\n"));
        Assert.NotEqual(string.Empty, Errors(Head + "  - { store_unreachable: 1m }\n"));
        Assert.NotEqual(string.Empty, Errors(Head + "  - { store_unreachable: 1m, at: 1m, during: a }\n"));
        Assert.NotEqual(string.Empty, Errors(Head + "  - { store_unreachable: 1m, at: 1m, restart_after: 1m }\n"));
    }
}
