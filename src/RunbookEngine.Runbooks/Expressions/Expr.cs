namespace RunbookEngine.Runbooks.Expressions;

/// <summary>A parsed expression. Values are null, bool, double, string, or JSON arrays and objects (as lists and dictionaries), or <see cref="Unknown"/>.</summary>
public abstract record Expr(int Offset);

/// <summary>A literal.</summary>
/// <param name="Value">The value.</param>
/// <param name="Offset">Position in the text.</param>
public sealed record LiteralExpr(object? Value, int Offset) : Expr(Offset);

/// <summary>A reference such as <c>inputs.host</c> or <c>steps.check.outputs.percent</c>.</summary>
/// <param name="Path">The dotted path (indexes as strings).</param>
/// <param name="Offset">Position in the text.</param>
public sealed record RefExpr(IReadOnlyList<string> Path, int Offset) : Expr(Offset)
{
    /// <inheritdoc/>
    public override string ToString() => string.Join('.', Path);
}

/// <summary>A unary operator (<c>!</c> or <c>-</c>).</summary>
/// <param name="Op">The operator.</param>
/// <param name="Operand">The operand.</param>
/// <param name="Offset">Position in the text.</param>
public sealed record UnaryExpr(string Op, Expr Operand, int Offset) : Expr(Offset);

/// <summary>A binary operator.</summary>
/// <param name="Op">The operator.</param>
/// <param name="Left">The left operand.</param>
/// <param name="Right">The right operand.</param>
/// <param name="Offset">Position in the text.</param>
public sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Offset) : Expr(Offset);

/// <summary>A function call; <c>x | f(y)</c> is the call <c>f(x, y)</c>.</summary>
/// <param name="Name">The function.</param>
/// <param name="Args">The arguments.</param>
/// <param name="Offset">Position in the text.</param>
public sealed record CallExpr(string Name, IReadOnlyList<Expr> Args, int Offset) : Expr(Offset);
