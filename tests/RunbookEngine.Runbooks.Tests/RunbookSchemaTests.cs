using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using RunbookEngine.Actions;
using RunbookEngine.PowerShell;
using RunbookEngine.Runbooks.Tests.Compliance;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks.Tests;

/// <summary>
/// The runbook JSON Schema editors use: the checked-in file is what `runbook schema` prints, every example in
/// runbooks/ is valid against it (checked with JsonSchema.Net, as an editor's language server would), every key
/// the parser accepts is in it with a description, and what the parser refuses as an unknown key it refuses too.
/// </summary>
public sealed partial class RunbookSchemaTests
{
    /// <summary>The catalog the CLI ships: the built-in actions and powershell.</summary>
    private static readonly ActionCatalog Actions = ActionCatalog.CreateDefault().AddPowerShell();

    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(RunbookSchema.Text(Actions)));

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(InterpreterCompliance.RepositoryRoot(), "runbooks"), "*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }

    [Fact]
    public void The_checked_in_schema_is_what_runbook_schema_prints()
    {
        var file = Path.Combine(InterpreterCompliance.RepositoryRoot(), "schema", "runbook.schema.json");
        Assert.True(
            File.ReadAllText(file).ReplaceLineEndings("\n") == RunbookSchema.Text(Actions),
            "schema/runbook.schema.json is out of date: run `./runbook schema > schema/runbook.schema.json`");
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_example_runbook_is_valid_against_the_schema_and_points_editors_at_it(string file)
    {
        var path = Path.Combine(InterpreterCompliance.RepositoryRoot(), "runbooks", file);
        var text = File.ReadAllText(path);
        Assert.StartsWith("# yaml-language-server: $schema=../schema/runbook.schema.json", text, StringComparison.Ordinal);
        var (runbook, problems) = RunbookLibrary.Parse(Actions, path, text); // the real path: file: inputs are read beside it
        Assert.True(runbook is not null, string.Join('\n', problems));

        var result = Evaluate(text);

        Assert.True(result.IsValid, Errors(result));
    }

    [Fact]
    public void Every_key_the_parser_accepts_is_in_the_schema_with_a_description()
    {
        var schema = RunbookSchema.Build(Actions);
        var defs = schema["$defs"]!.AsObject();
        (string Where, JsonNode? Section, string[] Keys)[] sections =
        [
            ("root", schema, RunbookParser.RootKeys),
            ("step", defs["step"], RunbookParser.StepKeys),
            ("input", defs["input"], RunbookParser.InputKeys),
            ("approval", defs["approval"], RunbookParser.ApprovalKeys),
            ("retry", defs["retry"], RunbookParser.RetryKeys),
            ("trigger", defs["trigger"], RunbookParser.TriggerKeys),
            ("trigger approval", defs["trigger"]!["properties"]!["approval"], RunbookParser.GateApprovalKeys),
            ("guards", defs["guards"], RunbookParser.GuardKeys),
            ("rate", defs["guards"]!["properties"]!["rate"], RunbookParser.RateKeys),
            ("breaker", defs["guards"]!["properties"]!["breaker"], RunbookParser.BreakerKeys),
            ("wait_until", defs["step"]!["properties"]!["wait_until"], RunbookParser.WaitKeys),
            ("verify", defs["step"]!["properties"]!["verify"], RunbookParser.VerifyKeys),
            ("compensate", defs["step"]!["properties"]!["compensate"], RunbookParser.CompensateKeys),
        ];
        foreach (var (where, section, keys) in sections)
        {
            var properties = section!["properties"]!.AsObject();
            Assert.Equal([.. keys.Order(StringComparer.Ordinal)], properties.Select(p => p.Key).Order(StringComparer.Ordinal));
            Assert.All(properties, p => Assert.False(string.IsNullOrWhiteSpace(p.Value?["description"]?.GetValue<string>()), $"{where}.{p.Key} has no description"));
            Assert.False(section["additionalProperties"]!.GetValue<bool>(), $"{where} must refuse keys the parser refuses");
        }

        foreach (var action in Actions.All)
        {
            var with = defs["with-" + action.Name]!["properties"]!.AsObject();
            Assert.Equal(action.Parameters.Select(p => p.Name).Order(StringComparer.Ordinal), with.Select(p => p.Key).Order(StringComparer.Ordinal));
            Assert.All(with, p => Assert.False(string.IsNullOrWhiteSpace(p.Value?["description"]?.GetValue<string>()), $"{action.Name}.with.{p.Key} has no description"));
        }
    }

    [Theory]
    [InlineData("name: x\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n    retires: 3\n", "retires")]
    [InlineData("name: x\nsteps:\n  - id: a\n    action: shell\n    with: { comand: [ls] }\n", "comand")]
    [InlineData("name: x\nstep:\n  - id: a\n    action: log\n", "step")]
    [InlineData("name: x\nsteps:\n  - id: a\n    approval: { approver: [bob] }\n", "approver")]
    public void A_key_the_parser_refuses_is_refused_by_the_schema_too(string yaml, string key)
    {
        var (_, problems) = RunbookLibrary.Parse(Actions, "typo.yaml", yaml);
        Assert.Contains(problems, p => p.Message.Contains($"'{key}'", StringComparison.Ordinal));

        var result = Evaluate(yaml);

        Assert.False(result.IsValid, $"the schema accepted '{key}'");
    }

    [Fact]
    public void Expressions_are_accepted_where_numbers_and_booleans_go()
    {
        var yaml = "name: x\ninputs:\n  n: { type: number, default: 3 }\nsteps:\n  - id: a\n    action: kubernetes\n    with: { operation: scale, name: web, replicas: \"${{ inputs.n }}\", force: false }\n";
        Assert.True(Evaluate(yaml).IsValid);
    }

    private static EvaluationResults Evaluate(string yaml) =>
        Schema.Value.Evaluate(JsonSerializer.SerializeToElement(ToJson(yaml)), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static string Errors(EvaluationResults result) =>
        string.Join('\n', (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));

    /// <summary>YAML as an editor's language server reads it (YAML 1.2 core schema: plain scalars may be numbers, booleans or null).</summary>
    private static JsonNode? ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Node(stream.Documents[0].RootNode);
    }

    private static JsonNode? Node(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Node(c.Value)))),
        YamlSequenceNode s => new JsonArray([.. s.Children.Select(Node)]),
        YamlScalarNode { Style: ScalarStyle.Plain } p => Plain(p.Value ?? string.Empty),
        YamlScalarNode q => JsonValue.Create(q.Value),
        _ => throw new InvalidOperationException("unexpected YAML node " + node.NodeType),
    };

    private static JsonNode? Plain(string value)
    {
        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (value is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
        {
            return JsonValue.Create(value.Equals("true", StringComparison.OrdinalIgnoreCase));
        }

        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }

        if (Float().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();
}
