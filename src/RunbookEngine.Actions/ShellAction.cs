using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// Runs a command. An argument list runs the program directly (no shell, no quoting surprises); a single string
/// runs through <c>bash -c</c>, or through PowerShell 7 (<c>pwsh -Command</c>) with <c>shell: pwsh</c> when the
/// worker has it (a clear, non-retryable error when it does not). A non-zero exit code fails the attempt. The step's <c>timeout</c> bounds it; on
/// timeout or cancellation the whole process tree is killed.
/// </summary>
public sealed class ShellAction : IRunbookAction
{
    /// <summary>The most of stdout or stderr kept (the rest is dropped, and said so).</summary>
    internal const int MaxCapture = 1 << 20;

    /// <inheritdoc/>
    public string Name => "shell";

    /// <inheritdoc/>
    public string Description => "Run a command (argument list, or a string through bash -c or pwsh -Command); non-zero exit fails the attempt.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.Mutating;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("command", ParameterType.StringOrList, true, "The program and its arguments as a list, e.g. [systemctl, restart, nginx]; or one string run by the shell."),
        new("shell", ParameterType.String, false, "What runs a string command: bash (default) or pwsh (PowerShell 7, which the worker must have on its PATH).", ["bash", "pwsh"]),
        new("env", ParameterType.Map, false, "Extra environment variables (values may be secret references)."),
        new("working_directory", ParameterType.String, false, "The directory to run in; default the worker's current directory."),
        new("stdin", ParameterType.String, false, "Text written to the command's standard input."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["exit_code", "stdout", "stderr"];

    /// <inheritdoc/>
    public Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (file, args, display) = CommandOf(request);
        var env = With.Map(request.With, "env");
        var dir = With.String(request.With, "working_directory");
        var summary = $"would run: {display}" + (dir is null ? string.Empty : $" (in {dir})") + (env.Count == 0 ? string.Empty : $" with env {string.Join(", ", env.Keys)}");
        if (file == "pwsh")
        {
            summary += Which("pwsh") is null ? " with pwsh, which this worker does not have: the step would fail" : " with pwsh";
        }

        var details = With.Object(("program", file), ("arguments", new JsonArray([.. args.Select(a => JsonValue.Create(a))])), ("working_directory", dir));
        return Task.FromResult(new ActionPlan(Name, "run", display, summary, SideEffect, details));
    }

    /// <inheritdoc/>
    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (file, args, display) = CommandOf(request);
        if (file == "pwsh" && Which("pwsh") is null)
        {
            throw new StepException("ShellNotFound", "shell: 'shell: pwsh' needs PowerShell 7 (pwsh) on the worker's PATH, and this worker has none: install PowerShell on the workers that serve this step's queue, or write the command for bash", nonRetryable: true);
        }

        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        if (With.String(request.With, "working_directory") is { } dir)
        {
            if (!Directory.Exists(dir))
            {
                throw new StepException("InvalidInput", $"shell: working directory '{dir}' does not exist", nonRetryable: true);
            }

            info.WorkingDirectory = dir;
        }

        foreach (var (k, v) in With.Map(request.With, "env"))
        {
            info.Environment[k] = v;
        }

        info.Environment["RUNBOOK_IDEMPOTENCY_KEY"] = request.IdempotencyKey;
        info.Environment["RUNBOOK_STEP_KEY"] = request.StepKey;

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            throw new StepException("CommandNotFound", $"shell: cannot start '{file}': {ex.Message}", nonRetryable: true);
        }

        var stdout = ReadCappedAsync(process.StandardOutput);
        var stderr = ReadCappedAsync(process.StandardError);
        try
        {
            if (With.String(request.With, "stdin") is { } input)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }

        var output = await stdout.ConfigureAwait(false);
        var error = await stderr.ConfigureAwait(false);
        var result = With.Object(("exit_code", process.ExitCode), ("stdout", output), ("stderr", error));
        if (process.ExitCode != 0)
        {
            var tail = error.Trim();
            tail = tail.Length > 300 ? "..." + tail[^300..] : tail;
            throw new StepException("ExitCode", $"`{display}` exited with code {process.ExitCode}" + (tail.Length > 0 ? $": {tail}" : string.Empty));
        }

        return result;
    }

    private static (string File, IReadOnlyList<string> Args, string Display) CommandOf(ActionRequest request)
    {
        var command = request.With["command"];
        if (command is JsonArray)
        {
            var argv = With.StringList(request.With, "command")!;
            if (argv.Count == 0 || argv[0].Length == 0)
            {
                throw new StepException("InvalidInput", "shell: 'command' is an empty list", nonRetryable: true);
            }

            if (With.String(request.With, "shell") is not null)
            {
                throw new StepException("InvalidInput", "shell: 'shell' chooses what runs a string command; a list runs its program directly (write [pwsh, -Command, ...] to run pwsh with arguments)", nonRetryable: true);
            }

            return (argv[0], argv.Skip(1).ToList(), With.Quote(argv));
        }

        var line = With.RequiredString(request.With, "command", "shell");
        return (With.String(request.With, "shell") ?? "bash") switch
        {
            "bash" => ("/bin/bash", ["-c", line], line),
            "pwsh" => ("pwsh", ["-NoLogo", "-NoProfile", "-NonInteractive", "-Command", line], line),
            var other => throw new StepException("InvalidInput", $"shell: 'shell' is bash or pwsh, not '{other}'", nonRetryable: true),
        };
    }

    /// <summary>The full path of a program on this process's PATH, or null.</summary>
    private static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private static async Task<string> ReadCappedAsync(StreamReader reader)
    {
        var sb = new StringBuilder();
        var buffer = new char[8192];
        var dropped = 0L;
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false)) > 0)
        {
            var room = MaxCapture - sb.Length;
            if (room > 0)
            {
                sb.Append(buffer, 0, Math.Min(room, n));
            }

            dropped += Math.Max(0, n - Math.Max(room, 0));
        }

        return dropped > 0 ? sb.Append($"\n[... {dropped} more characters dropped]").ToString() : sb.ToString();
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
