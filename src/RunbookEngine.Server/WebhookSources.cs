using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using RunbookEngine.Actions;
using RunbookEngine.Alerts;
using RunbookEngine.Workflows;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Server;

/// <summary>
/// The server configuration file (<c>runbook serve --config</c>): per-source webhook credentials and the
/// mappings of generic JSON webhooks. Every secret in it is a reference (<c>secret://env/NAME</c>,
/// <c>secret://file/PATH</c>), resolved when the server starts.
/// </summary>
public static partial class WebhookSources
{
    /// <summary>The sources the server knows without configuration.</summary>
    public static readonly IReadOnlyList<string> BuiltIn = [AlertmanagerPayload.Source, GrafanaPayload.Source, PagerDutyPayload.Source, AzureMonitorPayload.Source];

    private static readonly string[] SourceKeys = ["auth", "mapping"];
    private static readonly string[] AuthKeys = ["bearer", "basic", "signature", "query_token", "hmac"];
    private static readonly string[] HmacKeys = ["secret", "secrets", "header", "timestamp_header", "tolerance"];
    private static readonly string[] MappingKeys = ["alerts", "name", "status", "firing", "fingerprint", "starts_at", "labels", "annotations"];

    /// <summary>Reads a configuration file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The sources by name.</returns>
    /// <exception cref="FormatException">The file is wrong or a secret cannot be read; the message says where (file:line:col).</exception>
    public static IReadOnlyDictionary<string, WebhookSource> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"{path}: cannot read the server configuration: {ex.Message}", ex);
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new FormatException($"{path}:{ex.Start.Line}:{ex.Start.Column}: YAML syntax error: {ex.InnerException?.Message ?? ex.Message}", ex);
        }

        var sources = new Dictionary<string, WebhookSource>(StringComparer.Ordinal);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return sources;
        }

        string At(YamlNode n) => $"{path}:{n.Start.Line}:{n.Start.Column}";
        var root = stream.Documents[0].RootNode as YamlMappingNode ?? throw new FormatException($"{At(stream.Documents[0].RootNode)}: the server configuration is a mapping with 'sources'");
        foreach (var (key, _) in root.Children)
        {
            if (((YamlScalarNode)key).Value != "sources")
            {
                throw new FormatException($"{At(key)}: unknown key '{key}'; the server configuration has 'sources'");
            }
        }

        if (!root.Children.TryGetValue(new YamlScalarNode("sources"), out var sourcesNode) || sourcesNode is not YamlMappingNode sourceMap)
        {
            throw new FormatException($"{At(sourcesNode ?? root)}: 'sources' must be a mapping of source name to {{ auth, mapping }}");
        }

        foreach (var (keyNode, valueNode) in sourceMap.Children)
        {
            var name = ((YamlScalarNode)keyNode).Value ?? string.Empty;
            if (!NamePattern().IsMatch(name))
            {
                throw new FormatException($"{At(keyNode)}: source name '{name}' must be lower-case letters, digits and '-' (its URL is /hooks/NAME)");
            }

            var entry = Mapping(valueNode, SourceKeys, $"source '{name}'", At);
            var builtIn = BuiltIn.Contains(name);
            var auth = entry.TryGetValue("auth", out var authNode) ? Auth(authNode, name, At) : null;
            GenericMapping? mapping = null;
            if (entry.TryGetValue("mapping", out var mappingNode))
            {
                mapping = builtIn
                    ? throw new FormatException($"{At(mappingNode)}: '{name}' is a built-in source with a payload of its own; 'mapping' is for generic sources")
                    : Generic(mappingNode, name, At);
            }
            else if (!builtIn)
            {
                throw new FormatException($"{At(keyNode)}: '{name}' is not a built-in source ({string.Join(", ", BuiltIn)}), so it is a generic JSON webhook and needs 'mapping' (where its alerts' name, status, labels are in the body)");
            }

            sources[name] = new WebhookSource(name, auth, mapping);
        }

        return sources;
    }

    private static Dictionary<string, YamlNode> Mapping(YamlNode node, string[] allowed, string what, Func<YamlNode, string> at)
    {
        if (node is not YamlMappingNode map)
        {
            throw new FormatException($"{at(node)}: {what} must be a mapping with {string.Join(", ", allowed)}");
        }

        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? string.Empty;
            if (!allowed.Contains(key))
            {
                throw new FormatException($"{at(k)}: unknown key '{key}' in {what}; keys: {string.Join(", ", allowed)}");
            }

            result[key] = v;
        }

        return result;
    }

    private static WebhookAuth Auth(YamlNode node, string source, Func<YamlNode, string> at)
    {
        var keys = Mapping(node, AuthKeys, $"the auth of '{source}'", at);
        if (keys.Count != 1)
        {
            throw new FormatException($"{at(node)}: the auth of '{source}' is exactly one of {string.Join(", ", AuthKeys)}");
        }

        var (kind, value) = keys.Single();
        switch (kind)
        {
            case "bearer":
                return new BearerAuth(Secret(value, $"{source}: auth.bearer", at));
            case "query_token":
                return new QueryTokenAuth(Secret(value, $"{source}: auth.query_token", at));
            case "basic":
                var basic = Mapping(value, ["username", "password"], $"the basic auth of '{source}'", at);
                var user = basic.TryGetValue("username", out var u) && u is YamlScalarNode { Value: { Length: > 0 } un } && !un.Contains(':', StringComparison.Ordinal)
                    ? un
                    : throw new FormatException($"{at(value)}: basic auth needs 'username' (without ':')");
                return basic.TryGetValue("password", out var p)
                    ? new BasicAuth(user, Secret(p, $"{source}: auth.basic.password", at))
                    : throw new FormatException($"{at(value)}: basic auth needs 'password' (a secret reference)");
            case "hmac":
                return Hmac(value, source, at);
            default:
                if (source != PagerDutyPayload.Source)
                {
                    throw new FormatException($"{at(value)}: 'signature' is PagerDuty's scheme (X-PagerDuty-Signature); '{source}' can use bearer, basic or query_token");
                }

                var secrets = value is YamlSequenceNode seq && seq.Children.Count > 0
                    ? seq.Children.Select(c => Secret(c, $"{source}: auth.signature", at)).ToList()
                    : [Secret(value, $"{source}: auth.signature", at)];
                return new SignatureAuth(secrets);
        }
    }

    private static HmacAuth Hmac(YamlNode node, string source, Func<YamlNode, string> at)
    {
        if (source is AlertmanagerPayload.Source or AzureMonitorPayload.Source or PagerDutyPayload.Source)
        {
            throw new FormatException($"{at(node)}: '{source}' does not sign its deliveries with a shared secret as 'hmac' checks ({(source == PagerDutyPayload.Source ? "PagerDuty has 'signature'" : "use basic, bearer or query_token")}); 'hmac' is for grafana and generic webhooks");
        }

        var keys = Mapping(node, HmacKeys, $"the hmac auth of '{source}'", at);
        List<string> secrets = keys.TryGetValue("secrets", out var many)
            ? many is YamlSequenceNode { Children.Count: > 0 } list ? [.. list.Children.Select(c => Secret(c, $"{source}: auth.hmac.secrets", at))] : throw new FormatException($"{at(many)}: auth.hmac.secrets is a list of secret references (several while a secret is rotated)")
            : keys.TryGetValue("secret", out var one) ? [Secret(one, $"{source}: auth.hmac.secret", at)] : throw new FormatException($"{at(node)}: hmac auth needs 'secret' (a secret reference) or 'secrets' (a list, while rotating)");
        string? Header(string key)
        {
            if (!keys.TryGetValue(key, out var h))
            {
                return null;
            }

            return h is YamlScalarNode { Value: { Length: > 0 } name } && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
                ? name
                : throw new FormatException($"{at(h)}: auth.hmac.{key} must be an HTTP header name like X-Signature");
        }

        var tolerance = TimeSpan.FromMinutes(5);
        if (keys.TryGetValue("tolerance", out var t))
        {
            tolerance = t is YamlScalarNode { Value: { } text } && Durations.TryParse(text, out var d) && d > TimeSpan.Zero
                ? d
                : throw new FormatException($"{at(t)}: auth.hmac.tolerance must be a duration like 5m");
        }

        return new HmacAuth(secrets, Header("header") ?? (source == GrafanaPayload.Source ? "X-Grafana-Alerting-Signature" : HmacAuth.DefaultHeader), Header("timestamp_header"), tolerance);
    }

    private static string Secret(YamlNode node, string what, Func<YamlNode, string> at)
    {
        var reference = node is YamlScalarNode { Value: { } v } ? v : null;
        if (reference is null || !Secrets.IsReference(reference) || Secrets.CheckReference(reference) is not null)
        {
            throw new FormatException($"{at(node)}: {what} must be a secret reference (secret://env/NAME or secret://file/PATH), not the secret itself");
        }

        try
        {
            return Secrets.ResolveReference(reference) is { Length: > 0 } value
                ? value
                : throw new FormatException($"{at(node)}: {what}: {reference} is empty");
        }
        catch (StepException ex)
        {
            throw new FormatException($"{at(node)}: {what}: {ex.Message}", ex);
        }
    }

    private static GenericMapping Generic(YamlNode node, string source, Func<YamlNode, string> at)
    {
        var keys = Mapping(node, MappingKeys, $"the mapping of '{source}'", at);
        string? PathOf(string key)
        {
            if (!keys.TryGetValue(key, out var v))
            {
                return null;
            }

            return v is YamlScalarNode { Value: { } p } && GenericPayload.IsPath(p)
                ? p
                : throw new FormatException($"{at(v)}: mapping.{key} must be a dotted path into the body, like check.name or items.0.id");
        }

        IReadOnlyDictionary<string, string> Paths(string key, out string? whole)
        {
            whole = null;
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!keys.TryGetValue(key, out var v))
            {
                return result;
            }

            if (v is YamlScalarNode)
            {
                whole = PathOf(key);
                return result;
            }

            if (v is not YamlMappingNode m)
            {
                throw new FormatException($"{at(v)}: mapping.{key} is a path to an object, or a mapping of {key[..^1]} name to path");
            }

            foreach (var (k, p) in m.Children)
            {
                var name = ((YamlScalarNode)k).Value ?? string.Empty;
                result[name] = p is YamlScalarNode { Value: { } text } && GenericPayload.IsPath(text)
                    ? text
                    : throw new FormatException($"{at(p)}: mapping.{key}.{name} must be a dotted path into the body");
            }

            return result;
        }

        var firing = new List<string>();
        if (keys.TryGetValue("firing", out var f))
        {
            firing.AddRange(f switch
            {
                YamlSequenceNode s when s.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }) && s.Children.Count > 0 => s.Children.Select(c => ((YamlScalarNode)c).Value!),
                YamlScalarNode { Value: { Length: > 0 } one } => [one],
                _ => throw new FormatException($"{at(f)}: mapping.firing is the list of status values that mean firing, e.g. [firing, critical]"),
            });
            if (!keys.ContainsKey("status"))
            {
                throw new FormatException($"{at(f)}: mapping.firing needs mapping.status (the path of the status it is compared with)");
            }
        }
        else
        {
            firing.Add("firing");
        }

        var labels = Paths("labels", out var labelsFrom);
        var annotations = Paths("annotations", out var wholeAnnotations);
        if (wholeAnnotations is not null)
        {
            throw new FormatException($"{at(keys["annotations"])}: mapping.annotations is a mapping of annotation name to path");
        }

        if (labels.Count == 0 && labelsFrom is null && !keys.ContainsKey("name"))
        {
            throw new FormatException($"{at(node)}: the mapping of '{source}' gives its alerts no labels: set 'name' and/or 'labels', which triggers match on");
        }

        return new GenericMapping(PathOf("alerts"), PathOf("name"), PathOf("status"), firing, PathOf("fingerprint"), PathOf("starts_at"), labels, labelsFrom, annotations);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]*$")]
    private static partial Regex NamePattern();
}
