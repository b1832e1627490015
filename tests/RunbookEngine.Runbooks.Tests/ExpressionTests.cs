using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

public sealed class ExpressionTests
{
    private static readonly Dictionary<string, object?> Scope = new(StringComparer.Ordinal)
    {
        ["inputs"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["threshold"] = 90d, ["host"] = "web-1", ["tags"] = new List<object?> { "a", "b" } },
        ["steps"] = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["check-disk"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["outputs"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["percent"] = 93d }, ["status"] = "succeeded" },
        },
        ["result"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["stdout"] = " 87%\n", ["json"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["items"] = new List<object?> { 1d, 2d } } },
        ["pending"] = Unknown.Value,
    };

    private static object? Eval(string text) => ExpressionEvaluator.Evaluate(ExpressionParser.Parse(text), r =>
    {
        object? v = Scope.GetValueOrDefault(r.Path[0]);
        foreach (var s in r.Path.Skip(1))
        {
            v = v switch
            {
                Unknown => Unknown.Value,
                Dictionary<string, object?> m => m.GetValueOrDefault(s),
                List<object?> l => l[int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)],
                _ => null,
            };
        }

        return v;
    });

    [Theory]
    [InlineData("steps.check-disk.outputs.percent > inputs.threshold", true)]
    [InlineData("result.stdout | trim | number", 87d)]
    [InlineData("number(trim(result.stdout)) + 1", 88d)]
    [InlineData("inputs.host == 'web-1' && !(inputs.threshold < 50)", true)]
    [InlineData("'disk ' + inputs.host", "disk web-1")]
    [InlineData("result.json.items[1] * 10", 20d)]
    [InlineData("contains(inputs.tags, 'b')", true)]
    [InlineData("inputs.missing | default('none')", "none")]
    [InlineData("matches(inputs.host, '^web-[0-9]+$')", true)]
    [InlineData("length(inputs.tags) - 1", 1d)]
    [InlineData("steps.check-disk.status", "succeeded")]
    [InlineData("join(inputs.tags, ',')", "a,b")]
    [InlineData("last(lines(\"a\\nb\\n\"))", "b")]
    [InlineData("10 % 4", 2d)]
    [InlineData("null == inputs.missing", true)]
    public void Evaluate_gives_the_documented_value(string expression, object expected) =>
        Assert.Equal(expected, Eval(expression));

    [Theory]
    [InlineData("pending > 3")]
    [InlineData("pending.field")]
    [InlineData("trim(pending)")]
    [InlineData("pending && true")]
    public void Unknown_values_propagate(string expression) => Assert.Same(Unknown.Value, Eval(expression));

    [Theory]
    [InlineData("pending && false", false)]
    [InlineData("pending || true", true)]
    public void Logic_decides_without_an_unknown_side_when_it_can(string expression, bool expected) => Assert.Equal(expected, Eval(expression));

    [Theory]
    [InlineData("inputs.host > 3", "cannot compare string with number")]
    [InlineData("number('abc')", "is not a number")]
    [InlineData("1 / 0", "division by zero")]
    [InlineData("matches('a', '(')", "invalid regular expression")]
    public void Evaluation_errors_say_what_is_wrong(string expression, string message) =>
        Assert.Contains(message, Assert.Throws<ExpressionException>(() => Eval(expression)).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("a ==", 4, "ends too early")]
    [InlineData("a = b", 2, "compare with '=='")]
    [InlineData("f(1, 2", 6, "missing ')'")]
    [InlineData("'open", 0, "unterminated string")]
    [InlineData("a b", 2, "unexpected 'b'")]
    public void Syntax_errors_name_the_offset(string expression, int offset, string message)
    {
        var ex = Assert.Throws<ExpressionException>(() => ExpressionParser.Parse(expression));
        Assert.Equal(offset, ex.Offset);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("500ms", 0.5)]
    [InlineData("1d", 86400)]
    public void Durations_parse(string text, double seconds)
    {
        Assert.True(Durations.TryParse(text, out var d));
        Assert.Equal(seconds, d.TotalSeconds);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("5 minutes")]
    [InlineData("m5")]
    [InlineData("")]
    public void Bad_durations_do_not_parse(string text) => Assert.False(Durations.TryParse(text, out _));
}
