namespace RunbookEngine.Runbooks.Service;

/// <summary>Who calls: the actor recorded in the timeline, and their groups (for approval rules).</summary>
/// <param name="Actor">The actor, e.g. <c>user:alice</c>.</param>
/// <param name="Groups">The groups.</param>
public sealed record Caller(string Actor, IReadOnlyList<string> Groups);
