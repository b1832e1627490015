using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Text;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Scripting;

namespace RunbookEngine.Runbooks.Scripting;

/// <summary>A compiled script runbook, ready to run.</summary>
/// <param name="Key">Its cache key (content and engine).</param>
/// <param name="Run">Runs the script's code with its context.</param>
internal sealed record CompiledScript(string Key, Func<RunbookScript, Task<object?>> Run);

/// <summary>
/// Compiled script runbooks, by a hash of their file name, text and the engine build: in memory, and on disk
/// (<c>RUNBOOK_SCRIPT_CACHE</c>, default <c>~/.cache/runbook/scripts</c>), so a worker restart or a second CLI
/// call loads the assembly instead of compiling again. A hit never touches Roslyn.
/// </summary>
public static class ScriptCache
{
    private static readonly ConcurrentDictionary<string, Lazy<(CompiledScript? Script, IReadOnlyList<RunbookDiagnostic> Problems)>> Loaded = new(StringComparer.Ordinal);
    private static readonly string Engine = typeof(RunbookScript).Assembly.ManifestModule.ModuleVersionId.ToString("N");
    private static int compilations;

    /// <summary>Gets or sets the directory of compiled scripts; null uses <c>RUNBOOK_SCRIPT_CACHE</c> or the user's cache directory.</summary>
    public static string? Directory { get; set; }

    /// <summary>Gets how many scripts this process compiled with Roslyn (the rest came from a cache).</summary>
    public static int Compilations => Volatile.Read(ref compilations);

    /// <summary>Gets the directory in use.</summary>
    public static string CurrentDirectory
    {
        get
        {
            if (Directory is { } set)
            {
                return set;
            }

            if (Environment.GetEnvironmentVariable("RUNBOOK_SCRIPT_CACHE") is { Length: > 0 } configured)
            {
                return configured;
            }

            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "runbook", "scripts");
        }
    }

    /// <summary>Forgets what this process loaded (as a restart would); the disk cache stays.</summary>
    public static void ClearMemory() => Loaded.Clear();

    /// <summary>The compiled script of a runbook whose metadata parsed, or its problems.</summary>
    internal static (CompiledScript? Script, IReadOnlyList<RunbookDiagnostic> Problems) Get(Runbook header)
    {
        var key = KeyOf(header);
        return Loaded.GetOrAdd(key, k => new Lazy<(CompiledScript?, IReadOnlyList<RunbookDiagnostic>)>(() => Load(k, header))).Value;
    }

    private static string KeyOf(Runbook header)
    {
        var bytes = Encoding.UTF8.GetBytes($"runbook-csx/1\0{Engine}\0{header.File}\0{header.Source}");
        return Convert.ToHexStringLower(SHA256.HashData(bytes))[..32];
    }

    private static (CompiledScript?, IReadOnlyList<RunbookDiagnostic>) Load(string key, Runbook header)
    {
        var dir = CurrentDirectory;
        var path = Path.Combine(dir, key + ".dll");
        byte[]? image = null;
        try
        {
            image = File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            image = null; // an unreadable cache is a miss
        }

        if (image is null)
        {
            Interlocked.Increment(ref compilations);
            var (compiled, problems) = ScriptCompiler.Compile(header, "runbook-script-" + key);
            if (compiled is null)
            {
                return (null, problems);
            }

            image = compiled;
            Save(dir, path, image);
        }

        return (Activate(key, header.Name, image), []);
    }

    private static void Save(string dir, string path, byte[] image)
    {
        try
        {
            System.IO.Directory.CreateDirectory(dir);
            var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(temp, image);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only or full disk only costs a compilation next time.
        }
    }

    private static CompiledScript Activate(string key, string name, byte[] image)
    {
        var context = new AssemblyLoadContext("runbook:" + name + ":" + key, isCollectible: false);
        var assembly = context.LoadFromStream(new MemoryStream(image));
        var factory = assembly.GetType(ScriptCompiler.ClassName)?.GetMethod("<Factory>", BindingFlags.Public | BindingFlags.Static)
            ?? throw new InvalidOperationException($"the compiled script {key} has no entry point");
        return new CompiledScript(key, async globals =>
        {
            // Roslyn's script entry point: an array of submission states whose first slot is the globals object.
            // Workflow code: the rest of the run continues on the engine's scheduler (Temporal's is deterministic
            // and sees a continuation on the thread pool as a workflow that stopped without a command).
            var task = (Task<object>)factory.Invoke(null, [new object?[] { globals, null }])!;
            return await task.ConfigureAwait(true);
        });
    }
}
