using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks.Yaml;

/// <summary>
/// Reads the fields of a YAML document and reports each problem at its <c>file:line:col</c>: the one way runbooks,
/// drills and every other file the engine reads from people check keys, strings, numbers and durations.
/// </summary>
public sealed partial class YamlFields
{
    /// <summary>Initializes a new instance of the <see cref="YamlFields"/> class.</summary>
    /// <param name="file">The file as shown in messages.</param>
    /// <param name="diagnostics">Where problems are added.</param>
    public YamlFields(string file, List<RunbookDiagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(diagnostics);
        File = file;
        Diagnostics = diagnostics;
    }

    /// <summary>Gets the file as shown in messages.</summary>
    public string File { get; }

    /// <summary>Gets the problems found so far.</summary>
    public List<RunbookDiagnostic> Diagnostics { get; }

    /// <summary>Suggests the closest known word, if one is close enough to be a typo.</summary>
    /// <param name="word">What was written.</param>
    /// <param name="known">What is allowed.</param>
    /// <returns>The suggestion or null.</returns>
    public static string? DidYouMean(string word, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(word);
        ArgumentNullException.ThrowIfNull(known);
        var best = known.Select(k => (k, d: Distance(word.ToLowerInvariant(), k))).OrderBy(x => x.d).FirstOrDefault();
        return best.k is not null && best.d <= Math.Max(1, Math.Min(3, word.Length / 2)) ? best.k : null;
    }

    /// <summary>A " (did you mean 'x'?)" suffix, or nothing.</summary>
    /// <param name="suggestion">The suggestion.</param>
    /// <returns>The suffix.</returns>
    public static string Hint(string? suggestion) => suggestion is null ? string.Empty : $" (did you mean '{suggestion}'?)";

    /// <summary>Where a node starts.</summary>
    /// <param name="node">The node.</param>
    /// <returns>The location.</returns>
    public SourceLocation Loc(YamlNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new(File, (int)node.Start.Line, (int)node.Start.Column);
    }

    /// <summary>A location of a mark in the text.</summary>
    /// <param name="mark">The mark.</param>
    /// <returns>The location.</returns>
    public SourceLocation Loc(Mark mark) => new(File, (int)mark.Line, (int)mark.Column);

    /// <summary>Reports a problem at a node.</summary>
    /// <param name="node">The node.</param>
    /// <param name="message">The problem.</param>
    public void Error(YamlNode node, string message) => Diagnostics.Add(new(Loc(node), message));

    /// <summary>Reports a problem at a location.</summary>
    /// <param name="at">The location.</param>
    /// <param name="message">The problem.</param>
    public void Error(SourceLocation at, string message) => Diagnostics.Add(new(at, message));

    /// <summary>Reports a warning at a location.</summary>
    /// <param name="at">The location.</param>
    /// <param name="message">The warning.</param>
    public void Warn(SourceLocation at, string message) => Diagnostics.Add(new(at, message, Warning: true));

    /// <summary>Loads a file's single YAML document, whose root must be a mapping.</summary>
    /// <param name="source">The text.</param>
    /// <param name="what">What the file holds, for messages ("a runbook", "a drill").</param>
    /// <param name="needs">What the mapping needs at least, for messages ("'name' and 'steps'").</param>
    /// <param name="shape">What the mapping may have, for messages ("'name', 'steps' and optionally ...").</param>
    /// <returns>The root mapping, or null after reporting why not.</returns>
    public YamlMappingNode? LoadMapping(string source, string what, string needs, string shape)
    {
        ArgumentNullException.ThrowIfNull(source);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(source));
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException is { } inner && inner.Message.Length > 0 ? inner.Message : ex.Message;
            Error(Loc(ex.Start), "YAML syntax error: " + message.Replace($"({ex.Start}) - ({ex.End}): ", string.Empty, StringComparison.Ordinal));
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            Error(new SourceLocation(File, 1, 1), $"the file is empty; {what} needs at least {needs}");
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            Error(stream.Documents[1].RootNode, $"one {what.Split(' ')[^1]} per file: remove the second YAML document");
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            Error(stream.Documents[0].RootNode, $"{what} is a mapping with {shape}");
            return null;
        }

        return root;
    }

    /// <summary>The known keys of a mapping; every other key is reported, with a suggestion when it looks like a typo.</summary>
    /// <param name="node">The mapping.</param>
    /// <param name="known">The keys allowed.</param>
    /// <param name="what">What the mapping is, for messages.</param>
    /// <returns>The known keys' values.</returns>
    public Dictionary<string, YamlNode> Keys(YamlMappingNode node, string[] known, string what)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(known);
        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in node.Children)
        {
            if (k is not YamlScalarNode { Value: { } key })
            {
                Error(k, $"keys of {what} must be plain names");
                continue;
            }

            if (!known.Contains(key, StringComparer.Ordinal))
            {
                Error(k, $"unknown key '{key}' in {what}{Hint(DidYouMean(key, known))}");
                continue;
            }

            result[key] = v;
        }

        return result;
    }

    /// <summary>The entries of a mapping of names to values.</summary>
    /// <param name="node">The node, which must be a mapping.</param>
    /// <param name="what">Its key, for messages.</param>
    /// <returns>The entries.</returns>
    public IEnumerable<(string Key, YamlNode Value, YamlNode KeyNode)> Entries(YamlNode node, string what)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node is not YamlMappingNode m)
        {
            Error(node, $"'{what}' must be a mapping of names to values");
            yield break;
        }

        foreach (var (k, v) in m.Children)
        {
            if (k is YamlScalarNode { Value: { } key })
            {
                yield return (key, v, k);
            }
            else
            {
                Error(k, $"keys of '{what}' must be plain names");
            }
        }
    }

    /// <summary>The mappings of a list of mappings; a node that is not a list, or an item that is not a mapping, is reported.</summary>
    /// <param name="node">The node, which must be a list.</param>
    /// <param name="notList">The problem when it is not a list.</param>
    /// <param name="notMapping">The problem for an item that is not a mapping.</param>
    /// <returns>The items that are mappings, in order.</returns>
    public IEnumerable<YamlMappingNode> Mappings(YamlNode node, string notList, string notMapping)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node is not YamlSequenceNode seq)
        {
            Error(node, notList);
            yield break;
        }

        foreach (var item in seq.Children)
        {
            if (item is YamlMappingNode m)
            {
                yield return m;
            }
            else
            {
                Error(item, notMapping);
            }
        }
    }

    /// <summary>A non-empty string.</summary>
    /// <param name="node">The node.</param>
    /// <param name="what">Its key, for messages.</param>
    /// <returns>The string, or null after reporting.</returns>
    public string? RequireString(YamlNode node, string what)
    {
        if (node is YamlScalarNode s && s.Value is not null && !(s.Style == ScalarStyle.Plain && s.Value.Length == 0))
        {
            return s.Value;
        }

        Error(node, $"'{what}' must be a string");
        return null;
    }

    /// <summary>true or false.</summary>
    /// <param name="node">The node.</param>
    /// <param name="what">Its key, for messages.</param>
    /// <returns>The value, or null after reporting.</returns>
    public bool? RequireBool(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } s)
        {
            return s.Value == "true";
        }

        Error(node, $"'{what}' must be true or false");
        return null;
    }

    /// <summary>A whole number in a range.</summary>
    /// <param name="node">The node.</param>
    /// <param name="what">Its key, for messages.</param>
    /// <param name="min">The least allowed.</param>
    /// <param name="max">The most allowed.</param>
    /// <returns>The value, or null after reporting.</returns>
    public int? RequireInt(YamlNode node, string what, int min, int max)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain } s && int.TryParse(s.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) && i >= min && i <= max)
        {
            return i;
        }

        Error(node, $"'{what}' must be a whole number from {min} to {max}");
        return null;
    }

    /// <summary>A duration like <c>30s</c>.</summary>
    /// <param name="node">The node.</param>
    /// <param name="what">Its key, for messages.</param>
    /// <param name="allowZero">Whether <c>0s</c> is allowed.</param>
    /// <returns>The value, or null after reporting.</returns>
    public TimeSpan? RequireDuration(YamlNode node, string what, bool allowZero = false)
    {
        if (node is YamlScalarNode { Value: { } v } && (Durations.TryParse(v, out var d) || (allowZero && v.Trim() == "0" && (d = TimeSpan.Zero) == TimeSpan.Zero)))
        {
            if (d < TimeSpan.Zero || (d == TimeSpan.Zero && !allowZero))
            {
                Error(node, $"'{what}' must be longer than zero");
                return null;
            }

            return d;
        }

        Error(node, $"'{what}' must be a duration like 500ms, 30s, 5m, 2h or 1h30m");
        return null;
    }

    /// <summary>A YAML value as JSON: plain scalars typed (null, true/false, numbers), quoted ones strings.</summary>
    /// <param name="node">The node.</param>
    /// <returns>The JSON.</returns>
    public static JsonNode? ScalarOrTree(YamlNode node)
    {
        switch (node)
        {
            case YamlScalarNode s when s.Style == ScalarStyle.Plain:
                var v = s.Value ?? string.Empty;
                if (v is "" or "~" or "null")
                {
                    return null;
                }

                if (v is "true" or "false")
                {
                    return JsonValue.Create(v == "true");
                }

                if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && NumberLike().IsMatch(v))
                {
                    return JsonValue.Create(d);
                }

                return JsonValue.Create(v);
            case YamlScalarNode s:
                return JsonValue.Create(s.Value ?? string.Empty);
            case YamlSequenceNode seq:
                return new JsonArray([.. seq.Children.Select(ScalarOrTree)]);
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (k, val) in map.Children)
                {
                    o[((YamlScalarNode)k).Value ?? string.Empty] = ScalarOrTree(val);
                }

                return o;
            default:
                return null;
        }
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    [GeneratedRegex(@"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")]
    private static partial Regex NumberLike();
}
