using System.Text.Json.Nodes;

namespace RunbookEngine.Runbooks.Model;

/// <summary>A declared input.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Type">Its type.</param>
/// <param name="Required">Whether it must be given (an input with a default never is).</param>
/// <param name="Default">Its default.</param>
/// <param name="Pattern">A regular expression a string must match.</param>
/// <param name="Values">The allowed values of an enum.</param>
/// <param name="Secret">Whether it is a secret: only a secret reference is accepted, resolved in the worker.</param>
/// <param name="Description">What it is.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record RunbookInput(string Name, InputType Type, bool Required, JsonNode? Default, string? Pattern, IReadOnlyList<string>? Values, bool Secret, string? Description, SourceLocation Location);
