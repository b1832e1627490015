using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Scripting;

namespace RunbookEngine.Runbooks.Scripting;

/// <summary>
/// What a script may use, checked on the compiled syntax tree: an allow-list of namespaces (the runbook API and
/// the BCL basics), and the calls that would break replay outside a step, each refused with the context's
/// deterministic alternative. Inside <c>Step(id, ...)</c> code runs once and is recorded, so the clock, files and
/// the network are allowed there.
/// </summary>
internal static class ScriptPolicy
{
    /// <summary>Namespaces a script may use anywhere.</summary>
    public static readonly string[] Allowed =
    [
        "System", "System.Collections", "System.Collections.Generic", "System.Collections.ObjectModel", "System.Linq",
        "System.Text", "System.Text.RegularExpressions", "System.Text.Json", "System.Text.Json.Nodes", "System.Text.Json.Serialization",
        "System.Globalization", "System.Threading.Tasks", "RunbookEngine.Scripting",
    ];

    /// <summary>Namespaces allowed only inside a step: I/O and threads.</summary>
    private static readonly string[] InStepOnly = ["System.IO", "System.Net", "System.Diagnostics", "System.Threading", "System.Security.Cryptography"];

    /// <summary>Members of allowed types that break replay outside a step, with what to use instead.</summary>
    private static readonly Dictionary<string, string> OutsideStep = new(StringComparer.Ordinal)
    {
        ["System.DateTime.Now"] = "use Now (the run's clock, the same on every replay)",
        ["System.DateTime.UtcNow"] = "use Now (the run's clock, the same on every replay)",
        ["System.DateTime.Today"] = "use Now.Date (the run's clock, the same on every replay)",
        ["System.DateTimeOffset.Now"] = "use Now (the run's clock, the same on every replay)",
        ["System.DateTimeOffset.UtcNow"] = "use Now (the run's clock, the same on every replay)",
        ["System.Guid.NewGuid"] = "use NewGuid() (the same on every replay)",
        ["System.Random..ctor"] = "use Random (seeded from the run id, the same on every replay)",
        ["System.Random.Shared"] = "use Random (seeded from the run id, the same on every replay)",
        ["System.Threading.Tasks.Task.Delay"] = "use await Sleep(id, duration) (a durable timer)",
        ["System.Threading.Tasks.Task.Run"] = "await each step in turn; put custom code in await Step(id, ...)",
        ["System.Threading.Tasks.Task.Factory"] = "await each step in turn; put custom code in await Step(id, ...)",
        ["System.Threading.Tasks.Task.WhenAll"] = "await each step in turn: a run is a sequence",
        ["System.Threading.Tasks.Task.WhenAny"] = "await each step in turn: a run is a sequence",
        ["System.Threading.Tasks.Task.Yield"] = "await each step in turn: a run is a sequence",
        ["System.Threading.Tasks.Parallel"] = "await each step in turn: a run is a sequence",
        ["System.Threading.Thread.Sleep"] = "use await Sleep(id, duration) (a durable timer)",
        ["System.Environment.TickCount"] = "use Now (the run's clock, the same on every replay)",
        ["System.Environment.TickCount64"] = "use Now (the run's clock, the same on every replay)",
    };

    /// <summary>Types refused everywhere, with what to use instead.</summary>
    private static readonly Dictionary<string, string> Never = new(StringComparer.Ordinal)
    {
        ["System.Console"] = "use await Log(id, message) (recorded in the timeline)",
        ["System.Environment"] = "use inputs, and secret:// references for secrets",
        ["System.AppDomain"] = "not available to runbooks",
        ["System.Activator"] = "not available to runbooks",
        ["System.GC"] = "not available to runbooks",
        ["System.Diagnostics.Process"] = "use await Shell(id, command) (planned in dry-runs, recorded, killed on timeout)",
        ["System.Net.Http.HttpClient"] = "use await Http(id, url, ...) (planned in dry-runs, recorded, secrets redacted)",
    };

    public static IEnumerable<RunbookDiagnostic> Check(SemanticModel model, SyntaxNode root, Runbook header, string file)
    {
        var own = model.Compilation.Assembly;
        foreach (var directive in root.DescendantTrivia().Where(t => t.IsKind(SyntaxKind.ReferenceDirectiveTrivia) || t.IsKind(SyntaxKind.LoadDirectiveTrivia)))
        {
            var target = directive.GetStructure() switch
            {
                ReferenceDirectiveTriviaSyntax r => r.File.ValueText,
                LoadDirectiveTriviaSyntax l => l.File.ValueText,
                _ => directive.ToString(),
            };
            yield return At(file, directive.GetLocation(), $"reference '{target}' is not allowed: a script runbook compiles against the runbook API and the BCL basics only; put other code behind an action");
        }

        var found = new List<RunbookDiagnostic>();
        foreach (var node in root.DescendantNodes())
        {
            var problem = node switch
            {
                IdentifierNameSyntax or GenericNameSyntax => NameProblem(model, (SimpleNameSyntax)node, own),
                BaseObjectCreationExpressionSyntax creation => CreationProblem(model, creation, own),
                InvocationExpressionSyntax call => CallProblem(model, call, header),
                _ => null,
            };
            if (problem is not null)
            {
                found.Add(At(file, node.GetLocation(), problem));
            }
        }

        // `System.IO.File.ReadAllText` is one problem, not one per name: per line, each message once, and the
        // most specific ones only (Thread.Sleep's alternative rather than "System.Threading is not allowed").
        foreach (var line in found.GroupBy(d => d.Location.Line))
        {
            var best = line.Min(d => Rank(d.Message));
            foreach (var d in line.Where(d => Rank(d.Message) == best).DistinctBy(d => d.Message))
            {
                yield return d;
            }
        }
    }

    private static int Rank(string message) =>
        OutsideStep.Values.Any(v => message.EndsWith(v, StringComparison.Ordinal)) || Never.Values.Any(v => message.EndsWith(v, StringComparison.Ordinal)) ? 0 : 1;

    private static RunbookDiagnostic At(string file, Location location, string message)
    {
        var span = location.GetLineSpan();
        return new RunbookDiagnostic(new SourceLocation(file, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1), message);
    }

    private static string? NameProblem(SemanticModel model, SimpleNameSyntax name, IAssemblySymbol own)
    {
        // The name part of a qualified name is checked as its own identifier; `System.IO` alone names a namespace.
        var info = model.GetSymbolInfo(name);
        var symbol = info.Symbol ?? info.CandidateSymbols.FirstOrDefault();
        if (symbol is null or INamespaceSymbol)
        {
            return null;
        }

        if (symbol is ITypeSymbol { TypeKind: TypeKind.Dynamic })
        {
            return "'dynamic' is not allowed in runbooks: it escapes the compile-time checks";
        }

        // The script's own variables, functions and types.
        if (SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, own) || symbol is ILocalSymbol or IParameterSymbol or ILabelSymbol or IRangeVariableSymbol or ITypeParameterSymbol)
        {
            return null;
        }

        var inStep = InsideStep(model, name);
        if (symbol is INamedTypeSymbol type)
        {
            return TypeProblem(type, inStep);
        }

        if (symbol is IMethodSymbol or IPropertySymbol or IFieldSymbol or IEventSymbol && symbol.ContainingType is { } owner)
        {
            var member = $"{FullName(owner)}.{symbol.Name}";
            if (!inStep && OutsideStep.TryGetValue(member, out var alternative))
            {
                return $"{owner.Name}.{symbol.Name} breaks replay outside a step: {alternative}";
            }

            return TypeProblem(owner, inStep) ?? ReturnProblem(symbol);
        }

        return null;
    }

    private static string? CreationProblem(SemanticModel model, BaseObjectCreationExpressionSyntax creation, IAssemblySymbol own)
    {
        if (model.GetSymbolInfo(creation).Symbol is not IMethodSymbol { ContainingType: { } type } || SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, own))
        {
            return null;
        }

        var inStep = InsideStep(model, creation);
        return !inStep && OutsideStep.TryGetValue(FullName(type) + "..ctor", out var alternative)
            ? $"new {type.Name}() breaks replay outside a step: {alternative}"
            : TypeProblem(type, inStep);
    }

    private static string? CallProblem(SemanticModel model, InvocationExpressionSyntax call, Runbook header)
    {
        if (model.GetSymbolInfo(call).Symbol is not IMethodSymbol { ContainingType.Name: nameof(RunbookScript) } method
            || FullName(method.ContainingType) != typeof(RunbookScript).FullName
            || call.ArgumentList.Arguments.Count == 0
            || model.GetConstantValue(call.ArgumentList.Arguments[0].Expression) is not { HasValue: true, Value: string first })
        {
            return null;
        }

        switch (method.Name)
        {
            case nameof(RunbookScript.Input) when header.Inputs.All(i => i.Name != first):
                return $"input '{first}' is not declared in the metadata block{Hint(first, header.Inputs.Select(i => i.Name))}; declared: {List(header.Inputs.Select(i => i.Name))}";
            case nameof(RunbookScript.Output) when header.ScriptOutputs.All(o => o.Name != first):
                return $"output '{first}' is not declared in the metadata block{Hint(first, header.ScriptOutputs.Select(o => o.Name))}; declared: {List(header.ScriptOutputs.Select(o => o.Name))}";
            case nameof(RunbookScript.Input) or nameof(RunbookScript.Output):
                return null;
            default:
                return first.Length == 0 || first.Contains('/', StringComparison.Ordinal) || first.Contains('#', StringComparison.Ordinal)
                    ? $"step id '{first}' must be non-empty and contain neither '/' nor '#'"
                    : null;
        }
    }

    private static string? TypeProblem(INamedTypeSymbol type, bool inStep)
    {
        var full = FullName(type.OriginalDefinition);
        if (Never.TryGetValue(full, out var instead))
        {
            return $"{type.Name} is not allowed in runbooks: {instead}";
        }

        var ns = type.ContainingNamespace?.ToDisplayString() ?? string.Empty;
        if (!inStep && OutsideStep.TryGetValue(full, out var alternative))
        {
            return $"{type.Name} breaks replay outside a step: {alternative}";
        }

        if (Allowed.Contains(ns, StringComparer.Ordinal))
        {
            return null;
        }

        // A failed step may be caught by type, to undo what the script did before it.
        if (full is "System.Threading.CancellationToken" or "System.Threading.CancellationTokenSource" or "RunbookEngine.Workflows.StepFailedException")
        {
            return null;
        }

        if (InStepOnly.Any(p => ns == p || ns.StartsWith(p + ".", StringComparison.Ordinal)))
        {
            return inStep
                ? null
                : $"{ns}.{type.Name} breaks replay outside a step: use the actions (Shell, Http) or put the code in await Step(id, ...), which runs once and is recorded";
        }

        return $"{ns}.{type.Name} is not allowed in runbooks: namespace {ns} is not on the allow-list (System, System.Collections.Generic, System.Linq, System.Text, System.Text.Json, System.Globalization, System.Threading.Tasks, RunbookEngine.Scripting; and RunbookEngine.Workflows.StepFailedException)";
    }

    /// <summary>Reflection and the like reached through an allowed member, e.g. <c>typeof(X).Assembly</c>.</summary>
    private static string? ReturnProblem(ISymbol member)
    {
        var type = member switch
        {
            IMethodSymbol m => m.ReturnType,
            IPropertySymbol p => p.Type,
            IFieldSymbol f => f.Type,
            _ => null,
        };
        while (type is IArrayTypeSymbol array)
        {
            type = array.ElementType;
        }

        if (type is not INamedTypeSymbol named || named.ContainingNamespace is null)
        {
            return null;
        }

        var ns = named.ContainingNamespace.ToDisplayString();
        var refused = ns.StartsWith("System.Reflection", StringComparison.Ordinal) || ns.StartsWith("System.Runtime.InteropServices", StringComparison.Ordinal)
            || ns.StartsWith("System.Runtime.Loader", StringComparison.Ordinal) || Never.ContainsKey(FullName(named));
        return refused
            ? $"{member.ContainingType?.Name}.{member.Name} returns {ns}.{named.Name}, which is not allowed in runbooks"
            : null;
    }

    /// <summary>Whether a node is inside the body of a <c>Step(id, ...)</c> call, where code runs once and is recorded.</summary>
    private static bool InsideStep(SemanticModel model, SyntaxNode node)
    {
        foreach (var lambda in node.Ancestors().OfType<AnonymousFunctionExpressionSyntax>())
        {
            if (lambda.Parent is ArgumentSyntax { Parent: ArgumentListSyntax { Parent: InvocationExpressionSyntax call } }
                && model.GetSymbolInfo(call).Symbol is IMethodSymbol { Name: nameof(RunbookScript.Step) } m
                && FullName(m.ContainingType) == typeof(RunbookScript).FullName)
            {
                return true;
            }
        }

        return false;
    }

    private static string FullName(INamedTypeSymbol type) =>
        type.ContainingType is { } outer ? FullName(outer) + "." + type.MetadataName
        : type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() + "." + type.MetadataName : type.MetadataName;

    private static string Hint(string word, IEnumerable<string> known) => RunbookParser.DidYouMean(word, known) is { } s ? $" (did you mean '{s}'?)" : string.Empty;

    private static string List(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
