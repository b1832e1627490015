namespace RunbookEngine.Workflows.Storage;

/// <summary>A step row to insert or replace within a fenced commit.</summary>
/// <param name="Step">The new state of the row.</param>
/// <param name="IsNew">Insert (a primary-key conflict fails the commit: someone else recorded this position) rather than update.</param>
public sealed record StepWrite(StepRecord Step, bool IsNew);
