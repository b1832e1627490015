using System.Diagnostics;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Scripting;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Scripting;

/// <summary>C# script runbooks (<c>.csx</c>): metadata read from the header, code compiled (or loaded from the cache).</summary>
// Workflow code: every await keeps its continuation on the engine's scheduler (ConfigureAwait(true)), since
// Temporal runs workflows on a deterministic scheduler of its own and a continuation on the thread pool would
// leave it; on the kernel there is no context, so it costs nothing.
public static class ScriptRunbooks
{
    /// <summary>The definition format of script runbooks.</summary>
    public const string Format = "runbook-csx/1";

    /// <summary>Whether a path is a script runbook by its extension.</summary>
    /// <param name="path">The path.</param>
    /// <returns>Whether it ends in .csx.</returns>
    public static bool IsScript(string path) => path?.EndsWith(".csx", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>Reads a script runbook: its metadata block, then its code, compiled and checked (or found in the cache).</summary>
    /// <param name="actions">The actions.</param>
    /// <param name="file">The path as shown in messages.</param>
    /// <param name="source">The script.</param>
    /// <param name="compile">Whether to compile it; false reads the metadata only (nothing is checked beyond it).</param>
    /// <returns>The runbook (null when there are problems) and every problem at file:line:col.</returns>
    public static (Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics) Parse(ActionCatalog actions, string file, string source, bool compile = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(source);
        var (yaml, missing) = ScriptHeader.Find(file, source);
        if (yaml is null)
        {
            return (null, [missing!]);
        }

        var (header, problems) = new RunbookParser(actions).ParseScriptMetadata(file, yaml, source);
        if (header is null || !compile)
        {
            return (header, problems);
        }

        var (script, compileProblems) = ScriptCache.Get(header);
        return script is null ? (null, compileProblems) : (header, []);
    }

    /// <summary>The workflow function of a valid script runbook.</summary>
    internal static WorkflowFunction Workflow(Runbook runbook, ActionCatalog actions)
    {
        var (script, problems) = ScriptCache.Get(runbook);
        if (script is null)
        {
            throw new RunbookValidationException(problems);
        }

        return async ctx =>
        {
            var globals = new RunbookScript(ctx, runbook, actions);
            try
            {
                await script.Run(globals).ConfigureAwait(true);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && ex.GetType().Assembly != typeof(IWorkflowContext).Assembly)
            {
                // An exception of the script's own code fails the run, named at its line in the script.
                throw new StepException(ex.GetType().Name, $"{Where(ex, runbook.File)}: {ex.Message}", nonRetryable: true);
            }

            return (JsonNode)globals.OutputsJson();
        };
    }

    private static string Where(Exception ex, string file)
    {
        foreach (var frame in new StackTrace(ex, fNeedFileInfo: true).GetFrames())
        {
            if (frame.GetFileName() == file && frame.GetFileLineNumber() > 0)
            {
                return $"{file}:{frame.GetFileLineNumber()}:{Math.Max(1, frame.GetFileColumnNumber())}";
            }
        }

        return file;
    }
}
