using System.Globalization;
using System.Text;

namespace RunbookEngine.Runbooks.Expressions;

/// <summary>
/// Parses the text inside <c>${{ ... }}</c>. Grammar, loosest first: <c>||</c>, <c>&amp;&amp;</c>, <c>== !=</c>,
/// <c>&lt; &lt;= &gt; &gt;=</c>, <c>+ -</c>, <c>* / %</c>, unary <c>! -</c>, pipes <c>x | f(args)</c>, then
/// member access <c>a.b</c>, <c>a[0]</c>, <c>a['k']</c> and calls <c>f(x)</c>. Identifiers may contain
/// <c>-</c> (step ids like <c>check-disk</c>), so subtraction needs spaces: <c>a - b</c>.
/// </summary>
public static class ExpressionParser
{
    /// <summary>Parses an expression.</summary>
    /// <param name="text">The text between <c>${{</c> and <c>}}</c>.</param>
    /// <returns>The expression tree.</returns>
    /// <exception cref="ExpressionException">The text is not a valid expression; the offset says where.</exception>
    public static Expr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var p = new Parser(Lex(text), text);
        var e = p.ParseOr();
        p.ExpectEnd();
        return e;
    }

    private enum K
    {
        Ident,
        Number,
        String,
        Op,
        End,
    }

    private readonly record struct Tok(K Kind, string Text, int Offset, object? Value = null);

    private static List<Tok> Lex(string s)
    {
        var list = new List<Tok>();
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            var start = i;
            if (char.IsLetter(c) || c == '_')
            {
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] is '_' or '-'))
                {
                    i++;
                }

                // A trailing '-' belongs to an operator, not the name ("a- 1" is unusual but legal).
                while (s[i - 1] == '-')
                {
                    i--;
                }

                list.Add(new Tok(K.Ident, s[start..i], start));
                continue;
            }

            if (char.IsDigit(c))
            {
                while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.'))
                {
                    i++;
                }

                var num = s[start..i];
                if (!double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                {
                    throw new ExpressionException($"'{num}' is not a number", start);
                }

                list.Add(new Tok(K.Number, num, start, d));
                continue;
            }

            if (c is '\'' or '"')
            {
                var quote = c;
                i++;
                var sb = new StringBuilder();
                while (true)
                {
                    if (i >= s.Length)
                    {
                        throw new ExpressionException("unterminated string", start);
                    }

                    if (s[i] == quote)
                    {
                        if (quote == '\'' && i + 1 < s.Length && s[i + 1] == '\'')
                        {
                            sb.Append('\'');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (quote == '"' && s[i] == '\\' && i + 1 < s.Length)
                    {
                        sb.Append(s[i + 1] switch { 'n' => '\n', 't' => '\t', var other => other });
                        i += 2;
                        continue;
                    }

                    sb.Append(s[i]);
                    i++;
                }

                list.Add(new Tok(K.String, s[start..i], start, sb.ToString()));
                continue;
            }

            var two = i + 1 < s.Length ? s.Substring(i, 2) : string.Empty;
            if (two is "==" or "!=" or "<=" or ">=" or "&&" or "||")
            {
                list.Add(new Tok(K.Op, two, start));
                i += 2;
                continue;
            }

            if ("<>!()[],.|+-*/%".Contains(c, StringComparison.Ordinal))
            {
                list.Add(new Tok(K.Op, c.ToString(), start));
                i++;
                continue;
            }

            if (c == '=')
            {
                throw new ExpressionException("'=' is not an operator; compare with '=='", start);
            }

            throw new ExpressionException($"unexpected character '{c}'", start);
        }

        list.Add(new Tok(K.End, string.Empty, s.Length));
        return list;
    }

    private sealed class Parser(List<Tok> toks, string text)
    {
        private int pos;

        private Tok Peek => toks[pos];

        public void ExpectEnd()
        {
            if (Peek.Kind != K.End)
            {
                throw new ExpressionException($"unexpected '{Peek.Text}' after the end of the expression", Peek.Offset);
            }
        }

        public Expr ParseOr()
        {
            var left = ParseAnd();
            while (IsOp("||"))
            {
                var t = Next();
                left = new BinaryExpr("||", left, ParseAnd(), t.Offset);
            }

            return left;
        }

        private Expr ParseAnd()
        {
            var left = ParseEquality();
            while (IsOp("&&"))
            {
                var t = Next();
                left = new BinaryExpr("&&", left, ParseEquality(), t.Offset);
            }

            return left;
        }

        private Expr ParseEquality()
        {
            var left = ParseComparison();
            while (IsOp("==") || IsOp("!="))
            {
                var t = Next();
                left = new BinaryExpr(t.Text, left, ParseComparison(), t.Offset);
            }

            return left;
        }

        private Expr ParseComparison()
        {
            var left = ParseAdditive();
            while (IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">="))
            {
                var t = Next();
                left = new BinaryExpr(t.Text, left, ParseAdditive(), t.Offset);
            }

            return left;
        }

        private Expr ParseAdditive()
        {
            var left = ParseMultiplicative();
            while (IsOp("+") || IsOp("-"))
            {
                var t = Next();
                left = new BinaryExpr(t.Text, left, ParseMultiplicative(), t.Offset);
            }

            return left;
        }

        private Expr ParseMultiplicative()
        {
            var left = ParseUnary();
            while (IsOp("*") || IsOp("/") || IsOp("%"))
            {
                var t = Next();
                left = new BinaryExpr(t.Text, left, ParseUnary(), t.Offset);
            }

            return left;
        }

        private Expr ParseUnary()
        {
            if (IsOp("!") || IsOp("-"))
            {
                var t = Next();
                return new UnaryExpr(t.Text, ParseUnary(), t.Offset);
            }

            return ParsePipe();
        }

        private Expr ParsePipe()
        {
            var e = ParsePostfix();
            while (IsOp("|"))
            {
                Next();
                var name = Peek;
                if (name.Kind != K.Ident)
                {
                    throw new ExpressionException("expected a function name after '|'", name.Offset);
                }

                Next();
                var args = new List<Expr> { e };
                if (IsOp("("))
                {
                    args.AddRange(ParseArgs());
                }

                e = new CallExpr(name.Text, args, name.Offset);
            }

            return e;
        }

        private Expr ParsePostfix()
        {
            var e = ParsePrimary();
            while (true)
            {
                if (IsOp("."))
                {
                    Next();
                    var member = Peek;
                    if (member.Kind != K.Ident)
                    {
                        throw new ExpressionException("expected a name after '.'", member.Offset);
                    }

                    Next();
                    e = e is RefExpr r ? new RefExpr([.. r.Path, member.Text], r.Offset) : throw new ExpressionException("'.' applies to references only", member.Offset);
                }
                else if (IsOp("["))
                {
                    var open = Next();
                    var index = Peek;
                    if (index.Kind is not (K.Number or K.String))
                    {
                        throw new ExpressionException("an index is a number or a quoted key", index.Offset);
                    }

                    Next();
                    Expect("]");
                    var key = index.Value is double d ? ((long)d).ToString(CultureInfo.InvariantCulture) : (string)index.Value!;
                    e = e is RefExpr r ? new RefExpr([.. r.Path, key], r.Offset) : throw new ExpressionException("'[...]' applies to references only", open.Offset);
                }
                else
                {
                    return e;
                }
            }
        }

        private Expr ParsePrimary()
        {
            var t = Peek;
            switch (t.Kind)
            {
                case K.Number:
                    Next();
                    return new LiteralExpr(t.Value, t.Offset);
                case K.String:
                    Next();
                    return new LiteralExpr(t.Value, t.Offset);
                case K.Ident when t.Text is "true" or "false":
                    Next();
                    return new LiteralExpr(t.Text == "true", t.Offset);
                case K.Ident when t.Text == "null":
                    Next();
                    return new LiteralExpr(null, t.Offset);
                case K.Ident:
                    Next();
                    if (IsOp("("))
                    {
                        return new CallExpr(t.Text, ParseArgs(), t.Offset);
                    }

                    return new RefExpr([t.Text], t.Offset);
                case K.Op when t.Text == "(":
                    Next();
                    var inner = ParseOr();
                    Expect(")");
                    return inner;
                case K.End:
                    throw new ExpressionException(text.Trim().Length == 0 ? "empty expression" : "the expression ends too early", t.Offset);
                default:
                    throw new ExpressionException($"unexpected '{t.Text}'", t.Offset);
            }
        }

        private List<Expr> ParseArgs()
        {
            Expect("(");
            var args = new List<Expr>();
            if (!IsOp(")"))
            {
                args.Add(ParseOr());
                while (IsOp(","))
                {
                    Next();
                    args.Add(ParseOr());
                }
            }

            Expect(")");
            return args;
        }

        private bool IsOp(string op) => Peek.Kind == K.Op && Peek.Text == op;

        private Tok Next() => toks[pos++];

        private void Expect(string op)
        {
            if (!IsOp(op))
            {
                throw new ExpressionException(Peek.Kind == K.End ? $"missing '{op}'" : $"expected '{op}' but found '{Peek.Text}'", Peek.Offset);
            }

            Next();
        }
    }
}
