namespace RunbookEngine.Actions;

/// <summary>A problem an action found in a literal input when a runbook was validated.</summary>
/// <param name="Line">The line within the input's text (1-based).</param>
/// <param name="Column">The column within that line (1-based).</param>
/// <param name="Message">What is wrong.</param>
public sealed record InputProblem(int Line, int Column, string Message);
