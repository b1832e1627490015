using System.Text.Json.Nodes;

namespace RunbookEngine.Scripting;

/// <summary>What a <c>shell</c> step returned.</summary>
public sealed class ShellResult
{
    internal ShellResult(JsonNode? result)
    {
        Planned = result is null;
        ExitCode = result?["exit_code"]?.GetValue<int>() ?? 0;
        Stdout = result?["stdout"]?.GetValue<string>() ?? string.Empty;
        Stderr = result?["stderr"]?.GetValue<string>() ?? string.Empty;
        Raw = result as JsonObject ?? [];
    }

    /// <summary>Gets a value indicating whether the step only planned (a dry-run): every other field is empty.</summary>
    public bool Planned { get; }

    /// <summary>Gets the exit code (always 0 for a step that succeeded).</summary>
    public int ExitCode { get; }

    /// <summary>Gets the standard output.</summary>
    public string Stdout { get; }

    /// <summary>Gets the standard error.</summary>
    public string Stderr { get; }

    /// <summary>Gets the non-empty lines of the standard output (the <c>lines</c> filter of YAML expressions).</summary>
    public IReadOnlyList<string> Lines => ScriptValues.Lines(Stdout);

    /// <summary>Gets the result object as YAML runbooks see it (<c>result</c>).</summary>
    public JsonObject Raw { get; }
}

/// <summary>What an <c>http</c> step returned.</summary>
public sealed class HttpResult
{
    internal HttpResult(JsonNode? result)
    {
        Planned = result is null;
        Status = result?["status"]?.GetValue<int>() ?? 0;
        Body = result?["body"]?.GetValue<string>() ?? string.Empty;
        Json = result?["json"]?.DeepClone();
        Headers = (result?["headers"] as JsonObject)?.ToDictionary(h => h.Key, h => h.Value?.ToString() ?? string.Empty, StringComparer.OrdinalIgnoreCase)
            ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        Raw = result as JsonObject ?? [];
    }

    /// <summary>Gets a value indicating whether the step only planned (a dry-run): every other field is empty.</summary>
    public bool Planned { get; }

    /// <summary>Gets the status code.</summary>
    public int Status { get; }

    /// <summary>Gets the response body as text.</summary>
    public string Body { get; }

    /// <summary>Gets the body parsed as JSON, when it was JSON.</summary>
    public JsonNode? Json { get; }

    /// <summary>Gets the response headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Gets the result object as YAML runbooks see it (<c>result</c>).</summary>
    public JsonObject Raw { get; }
}

/// <summary>Retries, timeouts and the task queue of a step, as a YAML step's <c>retry</c>, <c>timeout</c>, <c>total_timeout</c> and <c>queue</c>.</summary>
public sealed record StepSettings
{
    /// <summary>Gets the attempts including the first; default 1 (remediation is not retried unless asked).</summary>
    public int MaxAttempts { get; init; } = 1;

    /// <summary>Gets the first back-off; default 1 s.</summary>
    public TimeSpan InitialInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets the back-off multiplier; default 2.</summary>
    public double Backoff { get; init; } = 2.0;

    /// <summary>Gets the largest back-off; default 1 min.</summary>
    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets the error kinds that are not retried.</summary>
    public IReadOnlyList<string> NonRetryable { get; init; } = [];

    /// <summary>Gets the limit on one attempt.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Gets the limit on the whole step, retries included.</summary>
    public TimeSpan? TotalTimeout { get; init; }

    /// <summary>Gets the task queue whose workers execute the action (actions only).</summary>
    public string? Queue { get; init; }
}

/// <summary>Small helpers shared with the expression language.</summary>
internal static class ScriptValues
{
    public static IReadOnlyList<string> Lines(string text) =>
        [.. text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0)];
}
