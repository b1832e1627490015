namespace RunbookEngine.Runbooks.Model;

/// <summary>An output a script runbook declares.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">What it is.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record ScriptOutput(string Name, string? Description, SourceLocation Location);
