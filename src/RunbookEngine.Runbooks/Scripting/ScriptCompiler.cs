using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Text;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Scripting;

namespace RunbookEngine.Runbooks.Scripting;

/// <summary>
/// Compiles a script runbook with Roslyn against an allow-list of assemblies, checks it with
/// <see cref="ScriptPolicy"/>, and emits an assembly with an embedded PDB (so a runtime error names its line).
/// Only <see cref="ScriptCache"/> calls it, on a cache miss: a cached script never loads Roslyn.
/// </summary>
internal static class ScriptCompiler
{
    /// <summary>The class a script's code compiles into; its static <c>&lt;Factory&gt;</c> method runs it.</summary>
    public const string ClassName = "RunbookScriptCode";

    /// <summary>The assemblies a script compiles against: the BCL basics and the runbook API.</summary>
    private static readonly string[] Assemblies =
    [
        "System.Private.CoreLib", "System.Runtime", "System.Collections", "System.Linq", "System.Text.RegularExpressions",
        "System.Text.Json", "System.Memory", "System.Console", "System.Net.Http", "System.Net.Primitives", "System.Threading",
        "System.Diagnostics.Process", "System.Security.Cryptography",
    ];

    private static readonly string[] Usings =
        ["System", "System.Collections.Generic", "System.Linq", "System.Text.Json.Nodes", "System.Threading.Tasks", "RunbookEngine.Scripting"];

    /// <summary>Diagnostics that our own check reports better: <c>#r</c> and <c>#load</c> are refused by name.</summary>
    private static readonly HashSet<string> Replaced = new(StringComparer.Ordinal) { "CS7099", "CS7096", "CS8099" };

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var platform = ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .GroupBy(p => Path.GetFileNameWithoutExtension(p), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        var references = Assemblies.Where(platform.ContainsKey).Select(a => (MetadataReference)MetadataReference.CreateFromFile(platform[a])).ToList();
        references.Add(MetadataReference.CreateFromFile(typeof(RunbookScript).Assembly.Location));

        // The kernel's exceptions, so a script can catch a failed step by type (StepFailedException) to undo what it did.
        references.Add(MetadataReference.CreateFromFile(typeof(Workflows.StepFailedException).Assembly.Location));
        return [.. references];
    });

    public static (byte[]? Image, IReadOnlyList<RunbookDiagnostic> Problems) Compile(Runbook header, string assemblyName)
    {
        var file = header.File;
        var tree = CSharpSyntaxTree.ParseText(
            SourceText.From(header.Source, Encoding.UTF8),
            CSharpParseOptions.Default.WithKind(SourceCodeKind.Script).WithLanguageVersion(LanguageVersion.Latest),
            path: file);
        var options = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            scriptClassName: ClassName,
            usings: Usings,
            optimizationLevel: OptimizationLevel.Release,
            allowUnsafe: false,
            deterministic: true,
            concurrentBuild: false);
        var compilation = CSharpCompilation.CreateScriptCompilation(
            assemblyName, tree, References.Value, options, previousScriptCompilation: null, returnType: typeof(object), globalsType: typeof(RunbookScript));

        var problems = new List<RunbookDiagnostic>();
        foreach (var d in compilation.GetDiagnostics())
        {
            if (d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning && !Replaced.Contains(d.Id) && !d.IsSuppressed)
            {
                var span = d.Location.GetMappedLineSpan();
                var at = span.IsValid ? new SourceLocation(file, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1) : new SourceLocation(file, 1, 1);
                var severity = d.Severity == DiagnosticSeverity.Error ? "error" : "warning";
                problems.Add(new RunbookDiagnostic(at, $"{severity} {d.Id}: {d.GetMessage(CultureInfo.InvariantCulture)}"));
            }
        }

        var policy = ScriptPolicy.Check(compilation.GetSemanticModel(tree), tree.GetRoot(), header, file).ToList();

        // Roslyn's "not referenced" errors on a line the policy already explains (a refused type) add nothing.
        problems.RemoveAll(p => (p.Message.StartsWith("error CS0012:", StringComparison.Ordinal) || p.Message.StartsWith("error CS1980:", StringComparison.Ordinal))
            && policy.Any(q => q.Location.Line == p.Location.Line));
        problems.AddRange(policy);
        if (problems.Count > 0)
        {
            return (null, [.. problems.Distinct().OrderBy(p => p.Location.Line).ThenBy(p => p.Location.Column)]);
        }

        using var image = new MemoryStream();
        var result = compilation.Emit(image, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded));
        if (!result.Success)
        {
            return (null, [.. result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => new RunbookDiagnostic(new SourceLocation(file, 1, 1), $"error {d.Id}: {d.GetMessage(CultureInfo.InvariantCulture)}"))]);
        }

        return (image.ToArray(), []);
    }
}
