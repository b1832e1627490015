using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RunbookEngine.Runbooks.Expressions;

/// <summary>
/// Evaluates expressions deterministically. Values: null, bool, double, string, <see cref="List{T}"/> of values,
/// <see cref="Dictionary{TKey, TValue}"/> of string to value, and <see cref="Unknown"/>.
/// </summary>
public static class ExpressionEvaluator
{
    /// <summary>Gets the functions, with their minimum and maximum argument counts (a pipe passes the left side as the first).</summary>
    public static IReadOnlyDictionary<string, (int Min, int Max, string Help)> Functions { get; } = new Dictionary<string, (int, int, string)>(StringComparer.Ordinal)
    {
        ["trim"] = (1, 1, "trim(s): s without leading and trailing white space"),
        ["lower"] = (1, 1, "lower(s)"),
        ["upper"] = (1, 1, "upper(s)"),
        ["number"] = (1, 1, "number(x): x as a number; fails if x is not numeric (a trailing % is ignored)"),
        ["string"] = (1, 1, "string(x): x as text"),
        ["length"] = (1, 1, "length(x): characters of a string, items of a list or keys of an object"),
        ["json"] = (1, 1, "json(s): parses JSON text"),
        ["contains"] = (2, 2, "contains(a, b): a string contains b, or a list has an item equal to b"),
        ["starts_with"] = (2, 2, "starts_with(s, prefix)"),
        ["ends_with"] = (2, 2, "ends_with(s, suffix)"),
        ["matches"] = (2, 2, "matches(s, regex): whether s matches the .NET regular expression"),
        ["default"] = (2, 2, "default(x, fallback): fallback when x is null or empty"),
        ["join"] = (2, 2, "join(list, separator)"),
        ["split"] = (2, 2, "split(s, separator): a list of strings"),
        ["lines"] = (1, 1, "lines(s): the non-empty lines of s"),
        ["last"] = (1, 1, "last(list): its last item (or the last character of a string)"),
        ["first"] = (1, 1, "first(list): its first item (or the first character of a string)"),
    };

    /// <summary>Evaluates an expression.</summary>
    /// <param name="expr">The expression.</param>
    /// <param name="resolve">Resolves a reference path to its value.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ExpressionException">A type error or a failing function.</exception>
    public static object? Evaluate(Expr expr, Func<RefExpr, object?> resolve)
    {
        ArgumentNullException.ThrowIfNull(expr);
        ArgumentNullException.ThrowIfNull(resolve);
        return Eval(expr, resolve);
    }

    /// <summary>Whether a value counts as true: false, null, 0, "" and empty lists and objects do not.</summary>
    /// <param name="value">The value (not unknown).</param>
    /// <returns>Its truth.</returns>
    public static bool IsTruthy(object? value) => value switch
    {
        null => false,
        bool b => b,
        double d => d != 0 && !double.IsNaN(d),
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> m => m.Count > 0,
        _ => true,
    };

    /// <summary>Formats a value as text: numbers in invariant culture without needless decimals, lists and objects as JSON.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The text.</returns>
    public static string Stringify(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        Unknown => "<unknown>",
        _ => JsonSerializer.Serialize(value),
    };

    /// <summary>Describes a value's type for error messages.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The type name.</returns>
    public static string TypeName(object? value) => value switch
    {
        null => "null",
        bool => "boolean",
        double => "number",
        string => "string",
        List<object?> => "list",
        Dictionary<string, object?> => "object",
        Unknown => "unknown",
        _ => value.GetType().Name,
    };

    private static object? Eval(Expr e, Func<RefExpr, object?> resolve)
    {
        switch (e)
        {
            case LiteralExpr l:
                return l.Value;
            case RefExpr r:
                return resolve(r);
            case UnaryExpr u:
                var v = Eval(u.Operand, resolve);
                if (v is Unknown)
                {
                    return Unknown.Value;
                }

                return u.Op == "!" ? !IsTruthy(v) : -AsNumber(v, "-", u.Offset);
            case BinaryExpr { Op: "&&" } and:
                var a = Eval(and.Left, resolve);
                if (a is not Unknown && !IsTruthy(a))
                {
                    return false;
                }

                var b = Eval(and.Right, resolve);
                if (b is not Unknown && !IsTruthy(b))
                {
                    return false;
                }

                return a is Unknown || b is Unknown ? Unknown.Value : true;
            case BinaryExpr { Op: "||" } or:
                var x = Eval(or.Left, resolve);
                if (x is not Unknown && IsTruthy(x))
                {
                    return true;
                }

                var y = Eval(or.Right, resolve);
                if (y is not Unknown && IsTruthy(y))
                {
                    return true;
                }

                return x is Unknown || y is Unknown ? Unknown.Value : false;
            case BinaryExpr bin:
                return Binary(bin, Eval(bin.Left, resolve), Eval(bin.Right, resolve));
            case CallExpr call:
                var args = call.Args.Select(arg => Eval(arg, resolve)).ToList();
                if (call.Name != "default" && args.Any(arg => arg is Unknown))
                {
                    return Unknown.Value;
                }

                return Call(call, args);
            default:
                throw new ExpressionException($"unsupported expression {e.GetType().Name}", e.Offset);
        }
    }

    private static object? Binary(BinaryExpr bin, object? l, object? r)
    {
        if (l is Unknown || r is Unknown)
        {
            return Unknown.Value;
        }

        switch (bin.Op)
        {
            case "==":
                return ValuesEqual(l, r);
            case "!=":
                return !ValuesEqual(l, r);
            case "<" or "<=" or ">" or ">=":
                int cmp;
                if (l is double dl && r is double dr)
                {
                    cmp = dl.CompareTo(dr);
                }
                else if (l is string sl && r is string sr)
                {
                    cmp = string.CompareOrdinal(sl, sr);
                }
                else
                {
                    throw new ExpressionException($"cannot compare {TypeName(l)} with {TypeName(r)} using '{bin.Op}' (convert with number(...) or string(...))", bin.Offset);
                }

                return bin.Op switch { "<" => cmp < 0, "<=" => cmp <= 0, ">" => cmp > 0, _ => cmp >= 0 };
            case "+" when l is string || r is string:
                return Stringify(l) + Stringify(r);
            case "+":
                return AsNumber(l, "+", bin.Offset) + AsNumber(r, "+", bin.Offset);
            case "-":
                return AsNumber(l, "-", bin.Offset) - AsNumber(r, "-", bin.Offset);
            case "*":
                return AsNumber(l, "*", bin.Offset) * AsNumber(r, "*", bin.Offset);
            case "/":
                var divisor = AsNumber(r, "/", bin.Offset);
                return divisor == 0 ? throw new ExpressionException("division by zero", bin.Offset) : AsNumber(l, "/", bin.Offset) / divisor;
            case "%":
                var m = AsNumber(r, "%", bin.Offset);
                return m == 0 ? throw new ExpressionException("modulo by zero", bin.Offset) : AsNumber(l, "%", bin.Offset) % m;
            default:
                throw new ExpressionException($"unknown operator '{bin.Op}'", bin.Offset);
        }
    }

    private static double AsNumber(object? v, string op, int offset) =>
        v is double d ? d : throw new ExpressionException($"'{op}' needs numbers but got {TypeName(v)}", offset);

    private static bool ValuesEqual(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (double x, double y) => x.Equals(y),
        (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
        (bool x, bool y) => x == y,
        (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => ValuesEqual(p.First, p.Second)),
        (Dictionary<string, object?> x, Dictionary<string, object?> y) => x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var other) && ValuesEqual(kv.Value, other)),
        _ => false,
    };

    private static object? Call(CallExpr call, List<object?> a)
    {
        string Str(int i) => a[i] switch
        {
            string s => s,
            null => string.Empty,
            var other => Stringify(other),
        };

        switch (call.Name)
        {
            case "trim":
                return Str(0).Trim();
            case "lower":
                return Str(0).ToLowerInvariant();
            case "upper":
                return Str(0).ToUpperInvariant();
            case "string":
                return Stringify(a[0]);
            case "number":
                if (a[0] is double d)
                {
                    return d;
                }

                var text = Str(0).Trim().TrimEnd('%').Trim();
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                    ? n
                    : throw new ExpressionException($"number: '{Truncate(Str(0))}' is not a number", call.Offset);
            case "length":
                return a[0] switch
                {
                    string s => (double)s.Length,
                    List<object?> l => l.Count,
                    Dictionary<string, object?> m => m.Count,
                    null => 0d,
                    var other => throw new ExpressionException($"length: a {TypeName(other)} has no length", call.Offset),
                };
            case "json":
                try
                {
                    return RunbookValues.FromJson(JsonDocument.Parse(Str(0)).RootElement);
                }
                catch (JsonException ex)
                {
                    throw new ExpressionException($"json: not valid JSON ({ex.Message})", call.Offset);
                }

            case "contains":
                return a[0] is List<object?> list ? list.Any(item => ValuesEqual(item, a[1])) : Str(0).Contains(Str(1), StringComparison.Ordinal);
            case "starts_with":
                return Str(0).StartsWith(Str(1), StringComparison.Ordinal);
            case "ends_with":
                return Str(0).EndsWith(Str(1), StringComparison.Ordinal);
            case "matches":
                try
                {
                    return Regex.IsMatch(Str(0), Str(1), RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(200));
                }
                catch (ArgumentException ex)
                {
                    throw new ExpressionException($"matches: invalid regular expression: {ex.Message}", call.Offset);
                }
                catch (RegexMatchTimeoutException)
                {
                    throw new ExpressionException("matches: the regular expression took too long", call.Offset);
                }

            case "default":
                if (a[0] is Unknown)
                {
                    return Unknown.Value;
                }

                return a[0] is null || (a[0] is string s0 && s0.Length == 0) ? a[1] : a[0];
            case "join":
                return a[0] is List<object?> items ? string.Join(Str(1), items.Select(Stringify)) : throw new ExpressionException($"join: expects a list, got {TypeName(a[0])}", call.Offset);
            case "split":
                return Str(0).Split(Str(1)).Select(part => (object?)part).ToList();
            case "lines":
                return Str(0).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).Select(l => (object?)l).ToList();
            case "first" or "last":
                var first = call.Name == "first";
                return a[0] switch
                {
                    List<object?> { Count: 0 } => null,
                    List<object?> l2 => first ? l2[0] : l2[^1],
                    string { Length: 0 } => null,
                    string s2 => (first ? s2[0] : s2[^1]).ToString(),
                    var other => throw new ExpressionException($"{call.Name}: expects a list or string, got {TypeName(other)}", call.Offset),
                };
            default:
                throw new ExpressionException($"unknown function '{call.Name}'", call.Offset);
        }
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
