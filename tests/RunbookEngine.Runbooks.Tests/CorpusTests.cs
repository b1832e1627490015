using RunbookEngine.Actions;

namespace RunbookEngine.Runbooks.Tests;

public sealed class CorpusTests
{
    private static readonly string Broken = Path.Combine(AppContext.BaseDirectory, "Corpus", "broken");

    public static TheoryData<string> BrokenRunbooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Broken, "*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenRunbooks))]
    public void A_broken_runbook_reports_every_problem_at_its_file_line_and_column(string fileName)
    {
        var source = File.ReadAllText(Path.Combine(Broken, fileName));
        var expected = File.ReadAllLines(Path.Combine(Broken, Path.ChangeExtension(fileName, ".expected"))).Where(l => l.Length > 0).ToArray();

        var (runbook, diagnostics) = new RunbookParser(ActionCatalog.CreateDefault()).Parse(fileName, source);

        Assert.Null(runbook);
        Assert.Equal(expected, diagnostics.Select(d => d.ToString()).ToArray());
    }

    [Fact]
    public void A_string_command_with_an_input_people_set_is_valid_with_a_warning_and_an_argument_list_has_none()
    {
        var parser = new RunbookParser(ActionCatalog.CreateDefault());
        var (warned, diagnostics) = parser.Parse("echo.yaml", "name: echo\ninputs:\n  host: { type: string }\nsteps:\n  - id: e\n    action: shell\n    with: { command: \"echo ${{ inputs.host }}\" }\n");

        Assert.NotNull(warned);
        var warning = Assert.Single(diagnostics);
        Assert.True(warning.Warning);
        Assert.StartsWith("echo.yaml:7:23: warning: step 'e': the string command interpolates inputs.host;", warning.ToString(), StringComparison.Ordinal);

        var (safe, none) = parser.Parse("echo.yaml", "name: echo\ninputs:\n  host: { type: string }\nsteps:\n  - id: e\n    action: shell\n    with: { command: [echo, \"${{ inputs.host }}\"], env: { H: \"${{ inputs.host }}\" } }\n");
        Assert.NotNull(safe);
        Assert.Empty(none);
    }

    [Fact]
    public void The_corpus_covers_the_problem_kinds_the_reference_promises()
    {
        var all = string.Join('\n', Directory.GetFiles(Broken, "*.expected").Select(File.ReadAllText));
        foreach (var kind in new[] { "unknown key", "did you mean", "must be a whole number", "duplicate step id", "unknown step", "unknown input", "cycle with no exit", "invalid expression", "YAML syntax error", "unknown action", "unknown alert source", "invalid regular expression", "does not set the required input" })
        {
            Assert.Contains(kind, all, StringComparison.Ordinal);
        }
    }

    private static readonly string BrokenScripts = Path.Combine(AppContext.BaseDirectory, "Corpus", "broken-scripts");

    public static TheoryData<string> BrokenScriptRunbooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(BrokenScripts, "*.csx").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenScriptRunbooks))]
    public void A_broken_script_runbook_reports_every_problem_at_its_file_line_and_column(string fileName)
    {
        var source = File.ReadAllText(Path.Combine(BrokenScripts, fileName));
        var expected = File.ReadAllLines(Path.Combine(BrokenScripts, Path.ChangeExtension(fileName, ".expected"))).Where(l => l.Length > 0).ToArray();

        var (runbook, diagnostics) = RunbookLibrary.Parse(ActionCatalog.CreateDefault(), fileName, source);

        Assert.Null(runbook);
        Assert.Equal(expected, diagnostics.Select(d => d.ToString()).ToArray());
    }

    [Fact]
    public void The_script_corpus_covers_syntax_types_forbidden_apis_references_and_metadata()
    {
        var all = string.Join('\n', Directory.GetFiles(BrokenScripts, "*.expected").Select(File.ReadAllText));
        foreach (var kind in new[]
        {
            "error CS1026", "error CS0029", "error CS0103", "warning CS0219", "DateTime.UtcNow breaks replay outside a step: use Now", "Guid.NewGuid breaks replay", "new Random() breaks replay",
            "Task.Delay breaks replay outside a step: use await Sleep", "Thread.Sleep breaks replay", "Task.Run breaks replay", "System.IO.File breaks replay outside a step",
            "reference 'System.Net.Http.dll' is not allowed", "namespace System.Reflection is not on the allow-list", "HttpClient is not allowed", "missing metadata",
            "is not part of a script runbook's metadata", "input 'hots' is not declared", "output 'resarted' is not declared",
        })
        {
            Assert.Contains(kind, all, StringComparison.Ordinal);
        }
    }
}
