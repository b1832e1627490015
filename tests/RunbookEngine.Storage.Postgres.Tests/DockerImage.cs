using System.Diagnostics;
using System.Text.Json;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// The Dockerfile built as Docker would, without Docker (this machine has no daemon and reaches no image
/// registry). Each stage gets a directory standing for its file system; the build context is the repository as
/// .dockerignore leaves it; COPY copies, WORKDIR sets the directory commands run in, RUN runs the command with its
/// container paths mapped into the stage. What a base image brings is what it is known to hold: the .NET SDK
/// image the SDK, the runtime image only the Microsoft.NETCore.App framework, the aspnet image that and
/// Microsoft.AspNetCore.App. The final stage's `dotnet` is a .NET host that sees only its base image's
/// frameworks, so an app that needs a framework the image lacks fails to start as it would in the container.
/// Package installs of the runtime stage (apt-get) are not run: they only add OS packages.
/// </summary>
internal sealed class DockerImage
{
    private static readonly Dictionary<string, string[]> FrameworksOfImage = new(StringComparer.Ordinal)
    {
        ["mcr.microsoft.com/dotnet/runtime-deps"] = [],
        ["mcr.microsoft.com/dotnet/runtime"] = ["Microsoft.NETCore.App"],
        ["mcr.microsoft.com/dotnet/aspnet"] = ["Microsoft.NETCore.App", "Microsoft.AspNetCore.App"],
        ["mcr.microsoft.com/dotnet/sdk"] = ["Microsoft.NETCore.App", "Microsoft.AspNetCore.App"],
    };

    private DockerImage(string fileSystem, string workingDirectory, string baseImage, IReadOnlyList<string> entrypoint, IReadOnlyList<string> command)
    {
        FileSystem = fileSystem;
        WorkingDirectory = workingDirectory;
        BaseImage = baseImage;
        Entrypoint = entrypoint;
        Command = command;
    }

    /// <summary>Gets the directory standing for the image's root.</summary>
    public string FileSystem { get; }

    /// <summary>Gets the image's WORKDIR, mapped.</summary>
    public string WorkingDirectory { get; }

    /// <summary>Gets the final stage's base image.</summary>
    public string BaseImage { get; }

    /// <summary>Gets the ENTRYPOINT as written (container paths).</summary>
    public IReadOnlyList<string> Entrypoint { get; }

    /// <summary>Gets the CMD as written.</summary>
    public IReadOnlyList<string> Command { get; }

    /// <summary>Maps a container path (absolute) into the image's directory.</summary>
    public string Map(string containerPath) => Under(FileSystem, containerPath);

    /// <summary>A process of the image: its entrypoint with <paramref name="arguments"/> (CMD when none), run in WORKDIR.</summary>
    public ProcessStartInfo Start(IEnumerable<string> arguments)
    {
        var args = arguments.ToList();
        var entry = Entrypoint.Select((a, i) => i == 0 && a == "dotnet" ? Map("/usr/share/dotnet/dotnet") : a.StartsWith('/') ? Map(a) : a).ToList();
        var info = new ProcessStartInfo(entry[0]) { WorkingDirectory = WorkingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in entry.Skip(1).Concat(args.Count > 0 ? args : Command))
        {
            info.ArgumentList.Add(a);
        }

        // A container's environment has no host .NET settings.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        return info;
    }

    /// <summary>Builds the Dockerfile at <paramref name="context"/> into <paramref name="directory"/>; a build step that fails throws with its output.</summary>
    public static async Task<DockerImage> BuildAsync(string context, string directory, Action<string> log)
    {
        var stages = new List<(string Name, string Root, string Base)>();
        var workdir = "/";
        List<string> entrypoint = [];
        List<string> command = [];
        foreach (var (instruction, argument) in Instructions(await File.ReadAllTextAsync(Path.Combine(context, "Dockerfile"))))
        {
            var root = stages.Count > 0 ? stages[^1].Root : null;
            switch (instruction)
            {
                case "FROM":
                    var parts = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var image = parts[0];
                    _ = FrameworksOf(image);
                    var stageRoot = Directory.CreateDirectory(Path.Combine(directory, "stage" + stages.Count)).FullName;
                    stages.Add((parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : stages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), stageRoot, image));
                    workdir = "/";
                    break;
                case "WORKDIR":
                    workdir = argument.StartsWith('/') ? argument : Path.Combine(workdir, argument);
                    Directory.CreateDirectory(Under(root!, workdir));
                    break;
                case "COPY":
                    var words = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
                    var from = words[0].StartsWith("--from=", StringComparison.Ordinal) ? stages.Single(s => s.Name == words[0]["--from=".Length..]).Root : null;
                    words.RemoveAll(w => w.StartsWith("--", StringComparison.Ordinal));
                    var (source, target) = (words[0], words[1]);
                    var to = Under(root!, target.StartsWith('/') ? target : Path.Combine(workdir, target));
                    if (from is null)
                    {
                        CopyContext(context, Path.GetFullPath(Path.Combine(context, source)), to, DockerIgnore(context));
                    }
                    else
                    {
                        CopyTree(Under(from, source), to, _ => false);
                    }

                    break;
                case "RUN" when argument.StartsWith("apt-get", StringComparison.Ordinal):
                    log($"docker build: not run here (OS packages only): RUN {argument}");
                    break;
                case "RUN":
                    await RunAsync(root!, Under(root!, workdir), argument, log);
                    break;
                case "ENTRYPOINT":
                    entrypoint = JsonSerializer.Deserialize<List<string>>(argument)!;
                    break;
                case "CMD":
                    command = JsonSerializer.Deserialize<List<string>>(argument)!;
                    break;
                default:
                    throw new InvalidOperationException($"Dockerfile: {instruction} is not an instruction this emulation runs");
            }
        }

        // Only the final stage's own .NET host is ever started (RUN steps use the SDK).
        var final = stages[^1];
        InstallDotnet(final.Root, FrameworksOf(final.Base));
        return new DockerImage(final.Root, Under(final.Root, workdir), final.Base, entrypoint, command);
    }

    private static string[] FrameworksOf(string image) =>
        FrameworksOfImage.FirstOrDefault(f => image.StartsWith(f.Key + ":", StringComparison.Ordinal)).Value
        ?? throw new InvalidOperationException($"Dockerfile: FROM {image}: not an image this emulation knows");

    /// <summary>The instructions of a Dockerfile: comments dropped, continuation lines joined.</summary>
    private static IEnumerable<(string Instruction, string Argument)> Instructions(string dockerfile)
    {
        var pending = "";
        foreach (var raw in dockerfile.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.TrimStart().StartsWith('#') || (line.Length == 0 && pending.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var full = (pending + line).Trim();
            pending = "";
            var space = full.IndexOf(' ', StringComparison.Ordinal);
            yield return (full[..space].ToUpperInvariant(), full[(space + 1)..].Trim());
        }
    }

    /// <summary>A .NET host in the stage's /usr/share/dotnet that sees only <paramref name="frameworks"/>.</summary>
    private static void InstallDotnet(string stageRoot, string[] frameworks)
    {
        var host = Path.GetDirectoryName(ResolveLinks(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "/usr/share/dotnet/dotnet"))!;
        var dotnet = Directory.CreateDirectory(Under(stageRoot, "/usr/share/dotnet")).FullName;
        if (frameworks.Length == 0)
        {
            return;
        }

        // Copies, not links, of the host and its resolver: they look for frameworks next to where they are.
        File.Copy(Path.Combine(host, "dotnet"), Path.Combine(dotnet, "dotnet"));
        CopyTree(Path.Combine(host, "host"), Path.Combine(dotnet, "host"), _ => false);
        var shared = Directory.CreateDirectory(Path.Combine(dotnet, "shared")).FullName;
        foreach (var framework in frameworks)
        {
            Directory.CreateSymbolicLink(Path.Combine(shared, framework), Path.Combine(host, "shared", framework));
        }
    }

    private static string ResolveLinks(string path)
    {
        var full = Path.IsPathRooted(path) ? path : Path.Combine("/usr/bin", path);
        return File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
    }

    /// <summary>RUN: the command with every container path (a word starting with /) mapped into the stage; `dotnet` is the host's SDK.</summary>
    private static async Task RunAsync(string stageRoot, string workingDirectory, string command, Action<string> log)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var sdk = ResolveLinks(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        var info = new ProcessStartInfo(words[0] == "dotnet" ? sdk : words[0]) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var w in words.Skip(1))
        {
            info.ArgumentList.Add(w.StartsWith('/') ? Under(stageRoot, w) : w);
        }

        // A container's build has none of the test host's MSBuild settings, and leaves no build servers behind.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        log($"docker build: RUN {command}");
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker build: RUN {command} exited {p.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }

    /// <summary>The patterns of .dockerignore: a name (at the top of the context) or **/name (at any depth).</summary>
    private static List<string> DockerIgnore(string context)
    {
        var file = Path.Combine(context, ".dockerignore");
        var patterns = File.Exists(file) ? File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList() : [];
        foreach (var p in patterns.Where(p => p.Replace("**/", "", StringComparison.Ordinal).IndexOfAny(['*', '?', '[', '!', '/']) >= 0))
        {
            throw new InvalidOperationException($".dockerignore: '{p}' is a pattern this emulation does not read (only name and **/name)");
        }

        return patterns;
    }

    private static void CopyContext(string context, string source, string target, List<string> ignore)
    {
        bool Ignored(string path)
        {
            var relative = Path.GetRelativePath(context, path);
            var segments = relative.Split(Path.DirectorySeparatorChar);
            return ignore.Any(p => p.StartsWith("**/", StringComparison.Ordinal) ? segments.Contains(p[3..]) : relative == p);
        }

        CopyTree(source, target, Ignored);
    }

    private static void CopyTree(string source, string target, Func<string, bool> ignored)
    {
        Directory.CreateDirectory(target);
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            if (ignored(entry.FullName))
            {
                continue;
            }

            var to = Path.Combine(target, entry.Name);
            if (entry is DirectoryInfo d)
            {
                CopyTree(d.FullName, to, ignored);
            }
            else
            {
                File.Copy(entry.FullName, to, overwrite: true);
            }
        }
    }

    private static string Under(string root, string containerPath) => Path.Combine(root, containerPath.TrimStart('/'));
}
