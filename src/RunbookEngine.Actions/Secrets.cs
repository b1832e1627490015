using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// Secret references: <c>secret://env/NAME</c> (an environment variable of the worker) and
/// <c>secret://file/PATH</c> (a file on the worker, trailing newline removed). The store, the timeline and
/// plans only ever see the reference; the value exists in the worker's memory while the step executes, and
/// known values are redacted from what the action returns.
/// </summary>
public static partial class Secrets
{
    /// <summary>The text that replaces a secret value.</summary>
    public const string Mask = "***";

    private const string Prefix = "secret://";

    /// <summary>Whether a string is a secret reference.</summary>
    /// <param name="value">The string.</param>
    /// <returns>Whether it starts with <c>secret://</c>.</returns>
    public static bool IsReference(string? value) => value is not null && value.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Checks the form of a reference without resolving it.</summary>
    /// <param name="reference">The reference.</param>
    /// <returns>Null when well-formed, else the problem.</returns>
    public static string? CheckReference(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var rest = reference[Prefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == rest.Length - 1)
        {
            return $"'{reference}' is not a secret reference of the form secret://env/NAME or secret://file/PATH";
        }

        var kind = rest[..slash];
        return kind is "env" or "file" ? null : $"unknown secret source '{kind}' in '{reference}' (use env or file)";
    }

    /// <summary>Replaces every secret reference in a tree of values by its value, collecting the values.</summary>
    /// <param name="node">The values (a copy is returned; the input is not changed).</param>
    /// <param name="revealed">Receives every value resolved, for redaction.</param>
    /// <returns>The resolved copy.</returns>
    /// <exception cref="StepException">A reference cannot be resolved (kind <c>SecretUnavailable</c>, not retryable).</exception>
    public static JsonNode? Resolve(JsonNode? node, ICollection<string> revealed)
    {
        ArgumentNullException.ThrowIfNull(revealed);
        switch (node)
        {
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (k, v) in o)
                {
                    copy[k] = Resolve(v, revealed);
                }

                return copy;
            case JsonArray a:
                return new JsonArray([.. a.Select(item => Resolve(item, revealed))]);
            case JsonValue v when v.TryGetValue<string>(out var s) && s.Contains(Prefix, StringComparison.Ordinal):
                if (IsReference(s) && !Embedded().IsMatch(s))
                {
                    ResolveOne(s); // a malformed reference: fails with the reason
                }

                // A reference may stand alone or inside a longer string ("Bearer secret://env/TOKEN").
                return JsonValue.Create(Embedded().Replace(s, m =>
                {
                    var value = ResolveOne(m.Value);
                    if (value.Length > 0)
                    {
                        revealed.Add(value);
                    }

                    return value;
                }));
            default:
                return node?.DeepClone();
        }
    }

    /// <summary>Replaces every occurrence of the given values in strings of a tree (keys kept).</summary>
    /// <param name="node">The values.</param>
    /// <param name="secrets">The values to hide.</param>
    /// <returns>A redacted copy.</returns>
    public static JsonNode? Redact(JsonNode? node, IReadOnlyCollection<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (secrets.Count == 0)
        {
            return node?.DeepClone();
        }

        return node switch
        {
            JsonObject o => new JsonObject(o.Select(kv => KeyValuePair.Create(kv.Key, Redact(kv.Value, secrets)))),
            JsonArray a => new JsonArray([.. a.Select(item => Redact(item, secrets))]),
            JsonValue v when v.TryGetValue<string>(out var s) => JsonValue.Create(RedactText(s, secrets)),
            _ => node?.DeepClone(),
        };
    }

    /// <summary>Replaces every occurrence of the given values in a text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="secrets">The values to hide.</param>
    /// <returns>The redacted text.</returns>
    public static string RedactText(string text, IReadOnlyCollection<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(secrets);

        // Longest first, so a secret that contains another is hidden whole.
        foreach (var s in secrets.Where(s => s.Length > 0).OrderByDescending(s => s.Length))
        {
            text = text.Replace(s, Mask, StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>The value of one whole reference (<c>secret://env/NAME</c>, <c>secret://file/PATH</c>), for configuration read at start-up.</summary>
    /// <param name="reference">The reference.</param>
    /// <returns>The secret.</returns>
    /// <exception cref="StepException">Not a reference, or it cannot be read; the message says why (never the value).</exception>
    public static string ResolveReference(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return IsReference(reference)
            ? ResolveOne(reference)
            : throw new StepException("SecretUnavailable", "not a secret reference: use secret://env/NAME or secret://file/PATH", nonRetryable: true);
    }

    private static string ResolveOne(string reference)
    {
        if (CheckReference(reference) is { } problem)
        {
            throw new StepException("SecretUnavailable", problem, nonRetryable: true);
        }

        var rest = reference[Prefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var kind = rest[..slash];
        var name = rest[(slash + 1)..];
        if (kind == "env")
        {
            return Environment.GetEnvironmentVariable(name)
                ?? throw new StepException("SecretUnavailable", $"secret {reference}: the worker has no environment variable {name}", nonRetryable: true);
        }

        try
        {
            return File.ReadAllText(name).TrimEnd('\r', '\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StepException("SecretUnavailable", $"secret {reference}: cannot read the file ({ex.GetType().Name})", nonRetryable: true);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"secret://(?:env/[A-Za-z_][A-Za-z0-9_]*|file/[^\s'""]+)")]
    private static partial System.Text.RegularExpressions.Regex Embedded();
}
