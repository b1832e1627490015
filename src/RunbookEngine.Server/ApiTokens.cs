using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Server;

/// <summary>What an API token may do. Each role includes viewer; admin includes everything.</summary>
public enum ApiRole
{
    /// <summary>Read runbooks, runs, timelines and guards.</summary>
    Viewer,

    /// <summary>Also start, cancel and retry runs.</summary>
    Operator,

    /// <summary>Also approve and reject (but not start runs).</summary>
    Approver,

    /// <summary>Everything.</summary>
    Admin,
}

/// <summary>One API token as stored: never the token itself, only its SHA-256.</summary>
/// <param name="Name">Who or what holds it; the actor in the timeline is <c>user:NAME</c>.</param>
/// <param name="Role">What it may do.</param>
/// <param name="Groups">Its groups, for approval rules (<c>group:sre-oncall</c>).</param>
/// <param name="Sha256">The lower-case hex SHA-256 of the token.</param>
public sealed record ApiToken(string Name, ApiRole Role, IReadOnlyList<string> Groups, string Sha256)
{
    /// <summary>Gets the actor recorded in the timeline for this token.</summary>
    public string Actor => "user:" + Name;

    /// <summary>Whether this token's role allows what another role allows.</summary>
    /// <param name="needed">The role needed.</param>
    /// <returns>Whether it is allowed.</returns>
    public bool Allows(ApiRole needed) => Role == ApiRole.Admin || needed == ApiRole.Viewer || Role == needed;
}

/// <summary>
/// The API tokens file: a YAML list of <c>name</c>, <c>role</c>, <c>groups</c> and <c>sha256</c>, written by
/// <c>runbook token create</c>. Re-read when it changes, so a revoked token stops working without a restart.
/// </summary>
public sealed class ApiTokenFile
{
    private const string Prefix = "rbk_";
    private readonly object gate = new();
    private DateTime loadedStamp;
    private Dictionary<string, ApiToken> byHash = new(StringComparer.Ordinal);

    /// <summary>Initializes a new instance of the <see cref="ApiTokenFile"/> class.</summary>
    /// <param name="path">The file.</param>
    public ApiTokenFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = path;
    }

    /// <summary>Gets the file.</summary>
    public string Path { get; }

    /// <summary>Gets the tokens in the file now.</summary>
    public IReadOnlyList<ApiToken> Tokens
    {
        get
        {
            Refresh();
            lock (gate)
            {
                return [.. byHash.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The SHA-256 of a token, as stored.</summary>
    /// <param name="token">The token.</param>
    /// <returns>Lower-case hex.</returns>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A new random token (256 bits).</summary>
    /// <returns>The token, shown once.</returns>
    public static string NewToken() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Finds the token a request presented.</summary>
    /// <param name="token">The presented token.</param>
    /// <returns>The token's record, or null.</returns>
    public ApiToken? Find(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        Refresh();
        var hash = Hash(token);
        lock (gate)
        {
            // Looked up by the hash of a 256-bit random value: timing reveals nothing usable about any token.
            return byHash.GetValueOrDefault(hash);
        }
    }

    /// <summary>Finds a token by its SHA-256 (a console session keeps only that).</summary>
    /// <param name="sha256">The lower-case hex SHA-256.</param>
    /// <returns>The token's record, or null when it is no longer in the file.</returns>
    public ApiToken? FindHash(string sha256)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        Refresh();
        lock (gate)
        {
            return byHash.GetValueOrDefault(sha256);
        }
    }

    /// <summary>Adds a token to the file (creating it) and returns the token, which is stored only as a hash.</summary>
    /// <param name="name">The token's name.</param>
    /// <param name="role">Its role.</param>
    /// <param name="groups">Its groups.</param>
    /// <param name="now">When.</param>
    /// <returns>The new token.</returns>
    public string Create(string name, ApiRole role, IReadOnlyList<string> groups, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"))
        {
            throw new FormatException($"token name '{name}' must be 1-64 letters, digits, '.', '_', '@' or '-'");
        }

        var existing = Load();
        if (existing.Any(t => t.Name == name))
        {
            throw new InvalidOperationException($"a token named '{name}' exists already in {Path}; revoke it first or choose another name");
        }

        var token = NewToken();
        var entry = new ApiToken(name, role, groups, Hash(token));
        Write([.. existing, entry], now);
        return token;
    }

    /// <summary>Removes a token.</summary>
    /// <param name="name">The token's name.</param>
    /// <param name="now">When.</param>
    /// <returns>Whether it existed.</returns>
    public bool Revoke(string name, DateTimeOffset now)
    {
        var existing = Load();
        var kept = existing.Where(t => t.Name != name).ToList();
        if (kept.Count == existing.Count)
        {
            return false;
        }

        Write(kept, now);
        return true;
    }

    /// <summary>Reads the file. A missing file has no tokens.</summary>
    /// <returns>The tokens.</returns>
    /// <exception cref="FormatException">The file is malformed; the message names file:line:col.</exception>
    public IReadOnlyList<ApiToken> Load()
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(File.ReadAllText(Path)));
        }
        catch (YamlException ex)
        {
            throw new FormatException($"{Path}:{ex.Start.Line}:{ex.Start.Column}: YAML syntax error: {ex.InnerException?.Message ?? ex.Message}");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return [];
        }

        if (stream.Documents[0].RootNode is not YamlSequenceNode list)
        {
            throw new FormatException($"{Path}:1:1: the tokens file is a list of tokens (- name: ..., role: ..., sha256: ...)");
        }

        var tokens = new List<ApiToken>();
        foreach (var item in list.Children)
        {
            string At(YamlNode n) => $"{Path}:{n.Start.Line}:{n.Start.Column}";
            if (item is not YamlMappingNode map)
            {
                throw new FormatException($"{At(item)}: each token is a mapping with name, role, groups and sha256");
            }

            string? Get(string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode { Value: { } s } ? s : null;
            var name = Get("name") ?? throw new FormatException($"{At(map)}: a token needs 'name'");
            var roleText = Get("role") ?? throw new FormatException($"{At(map)}: token '{name}' needs 'role' (viewer, operator, approver or admin)");
            if (!Enum.TryParse<ApiRole>(roleText, ignoreCase: true, out var role) || !Enum.IsDefined(role) || char.IsDigit(roleText[0]))
            {
                throw new FormatException($"{At(map)}: token '{name}': role '{roleText}' is not viewer, operator, approver or admin");
            }

            var hash = Get("sha256") ?? throw new FormatException($"{At(map)}: token '{name}' needs 'sha256'");
            if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
            {
                throw new FormatException($"{At(map)}: token '{name}': sha256 must be 64 hex digits");
            }

            var groups = map.Children.TryGetValue(new YamlScalarNode("groups"), out var g) && g is YamlSequenceNode gs
                ? gs.Children.OfType<YamlScalarNode>().Select(x => x.Value ?? string.Empty).Where(x => x.Length > 0).ToList()
                : [];
            tokens.Add(new ApiToken(name, role, groups, hash.ToLowerInvariant()));
        }

        return tokens;
    }

    private void Refresh()
    {
        var stamp = File.Exists(Path) ? File.GetLastWriteTimeUtc(Path) : DateTime.MinValue;
        lock (gate)
        {
            if (stamp == loadedStamp && loadedStamp != default)
            {
                return;
            }
        }

        var tokens = Load();
        lock (gate)
        {
            byHash = tokens.GroupBy(t => t.Sha256, StringComparer.Ordinal).ToDictionary(t => t.Key, t => t.First(), StringComparer.Ordinal);
            loadedStamp = stamp == DateTime.MinValue ? DateTime.MaxValue : stamp;
        }
    }

    private void Write(IReadOnlyList<ApiToken> tokens, DateTimeOffset now)
    {
        var text = new StringBuilder();
        text.AppendLine("# API tokens for `runbook serve`: only SHA-256 hashes; each token was shown once when created.");
        text.AppendLine(CultureInfo.InvariantCulture, $"# Managed by `runbook token create|revoke` (last change {now:yyyy-MM-dd HH:mm:ss} UTC). Roles: viewer, operator, approver, admin.");
        foreach (var t in tokens)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- name: {t.Name}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  role: {t.Role.ToString().ToLowerInvariant()}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  groups: [{string.Join(", ", t.Groups.Select(g => "\"" + g.Replace("\"", string.Empty, StringComparison.Ordinal) + "\""))}]");
            text.AppendLine(CultureInfo.InvariantCulture, $"  sha256: {t.Sha256}");
        }

        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        Directory.CreateDirectory(directory);
        var temp = Path + ".tmp";
        File.WriteAllText(temp, text.ToString());
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, Path, overwrite: true);
    }
}
