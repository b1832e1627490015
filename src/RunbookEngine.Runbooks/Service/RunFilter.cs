namespace RunbookEngine.Runbooks.Service;

/// <summary>Which runs to list, newest first, and where the page starts.</summary>
public sealed record RunFilter
{
    /// <summary>Gets the status (<c>waiting</c>, <c>failed</c>, ...), or null for any.</summary>
    public string? Status { get; init; }

    /// <summary>Gets the runbook's name, or null for any.</summary>
    public string? Runbook { get; init; }

    /// <summary>Gets what the starter must begin with: <c>alert:</c> (any alert), <c>alert:grafana/</c>, <c>user:</c>, <c>user:ada</c>.</summary>
    public string? StartedBy { get; init; }

    /// <summary>Gets the target (a guarded runbook's guard key, e.g. <c>restart-service/web-1</c>), or null for any.</summary>
    public string? Target { get; init; }

    /// <summary>Gets the earliest creation time (inclusive), or null.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Gets the latest creation time (exclusive), or null.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Gets the page cursor: the <c>created_at</c> of the last run of the previous page, or null for the first page.</summary>
    public DateTimeOffset? Before { get; init; }

    /// <summary>Gets the <c>run_id</c> of the last run of the previous page (with <see cref="Before"/>).</summary>
    public string? BeforeRunId { get; init; }

    /// <summary>Gets the page size. Default 20.</summary>
    public int Limit { get; init; } = 20;
}
