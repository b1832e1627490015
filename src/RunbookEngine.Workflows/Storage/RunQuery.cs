namespace RunbookEngine.Workflows.Storage;

/// <summary>A filter over runs, newest first.</summary>
public sealed record RunQuery
{
    /// <summary>Gets the status to match, or null for any.</summary>
    public RunStatus? Status { get; init; }

    /// <summary>Gets the idempotency key to match (at most one run has it), or null for any.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>Gets the workflow name to match, or null for any.</summary>
    public string? WorkflowName { get; init; }

    /// <summary>Gets the earliest creation time (inclusive), or null.</summary>
    public DateTimeOffset? CreatedFrom { get; init; }

    /// <summary>Gets the latest creation time (exclusive), or null.</summary>
    public DateTimeOffset? CreatedBefore { get; init; }

    /// <summary>
    /// Gets a run id that makes <see cref="CreatedBefore"/> a page cursor: runs created before it, and runs created
    /// at that instant whose id sorts before this one (the order of the list). Null: only runs created before.
    /// </summary>
    public string? BeforeRunId { get; init; }

    /// <summary>Gets what the starter's actor must begin with (<c>alert:</c>, <c>alert:grafana/</c>, <c>user:ada</c>), or null.</summary>
    public string? StartedByPrefix { get; init; }

    /// <summary>
    /// Gets the target to match exactly: the guard key of a guarded runbook's run (<c>restart-service/web-1</c>), or
    /// null for any. Runs of runbooks without guards have no target and never match one.
    /// </summary>
    public string? Target { get; init; }

    /// <summary>Gets the maximum number of runs returned. Default 50.</summary>
    public int Limit { get; init; } = 50;
}
