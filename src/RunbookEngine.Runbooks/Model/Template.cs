using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Expressions;

namespace RunbookEngine.Runbooks.Model;

/// <summary>A YAML value that may contain <c>${{ }}</c> expressions.</summary>
/// <param name="Location">Where it is.</param>
public abstract record Template(SourceLocation Location);

/// <summary>A plain value without expressions.</summary>
/// <param name="Value">The value.</param>
/// <param name="Location">Where it is.</param>
public sealed record LiteralTemplate(JsonNode? Value, SourceLocation Location) : Template(Location);

/// <summary>A string that is exactly one expression; its value keeps its type (number, boolean, ...).</summary>
/// <param name="Expression">The expression.</param>
/// <param name="Text">The original text, shown in plans when the value is unknown.</param>
/// <param name="Location">Where it is.</param>
public sealed record ExpressionTemplate(Expr Expression, string Text, SourceLocation Location) : Template(Location);

/// <summary>A string with text and expressions mixed; always a string.</summary>
/// <param name="Parts">Literal text (Expression null) or expressions.</param>
/// <param name="Location">Where it is.</param>
public sealed record InterpolatedTemplate(IReadOnlyList<(string Text, Expr? Expression)> Parts, SourceLocation Location) : Template(Location);

/// <summary>A list.</summary>
/// <param name="Items">The items.</param>
/// <param name="Location">Where it is.</param>
public sealed record ListTemplate(IReadOnlyList<Template> Items, SourceLocation Location) : Template(Location);

/// <summary>A map.</summary>
/// <param name="Entries">The entries, in order.</param>
/// <param name="Location">Where it is.</param>
public sealed record MapTemplate(IReadOnlyList<(string Key, Template Value, SourceLocation KeyLocation)> Entries, SourceLocation Location) : Template(Location);
