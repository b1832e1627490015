using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using RunbookEngine.Actions;
using RunbookEngine.Workflows;
using PS = System.Management.Automation.PowerShell;
using PSExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy;

namespace RunbookEngine.PowerShell;

/// <summary>
/// Runs a PowerShell script inside the worker's process (Microsoft.PowerShell.SDK), on a warm runspace: no process
/// start per step. Values reach the script only as typed parameters (<c>parameters:</c>, bound to its
/// <c>param()</c> block), never pasted into its text. Objects it writes become the step's <c>output</c>; its error,
/// warning, verbose, information and debug records are kept in the result (redacted like every result). A
/// terminating error fails the attempt with the error record; non-terminating errors too, unless
/// <c>allow_errors: true</c>. The step's <c>timeout</c> and a run's cancel stop the pipeline.
/// </summary>
/// <remarks>
/// The plan (dry-run) runs the script with <c>-WhatIf</c> when it declares <c>[CmdletBinding(SupportsShouldProcess)]</c>
/// and shows the "What if:" operations it reports; such a script is classed as mutating. One that does not declare it
/// cannot be previewed: its plan says so, it is classed as destructive, and a run an alert started asks for approval
/// before running it.
/// </remarks>
public sealed partial class PowerShellAction : IRunbookAction
{
    /// <summary>The most output objects and records per stream kept in a result (the rest are counted, and said so).</summary>
    internal const int MaxItems = 1000;

    private static readonly string[] ExecutionPolicies = ["Unrestricted", "RemoteSigned", "AllSigned", "Restricted", "Bypass", "Undefined", "Default"];

    private readonly RunspacePool pool;

    /// <summary>Initializes a new instance of the <see cref="PowerShellAction"/> class on the process's shared runspaces.</summary>
    public PowerShellAction()
        : this(RunspacePool.Shared)
    {
    }

    internal PowerShellAction(RunspacePool pool) => this.pool = pool;

    /// <inheritdoc/>
    public string Name => "powershell";

    /// <inheritdoc/>
    public string Description => "Run a PowerShell script in the worker's process (no pwsh needed), with typed parameters, objects out, and a -WhatIf plan.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.Destructive;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("script", ParameterType.String, false, "The script, written inline (no ${{ }} in it: pass values as parameters). Give script or file.") { Verbatim = true },
        new("file", ParameterType.File, false, "A .ps1 file beside the runbook (a relative path), read and pinned when the runbook is loaded. Give script or file."),
        new("parameters", ParameterType.Map, false, "Named parameters bound to the script's param() block as typed PowerShell values (values may be expressions and secret references)."),
        new("language_mode", ParameterType.String, false, "full (default) or constrained (ConstrainedLanguage: no Add-Type, no arbitrary .NET types).", ["full", "constrained"]),
        new("modules", ParameterType.List, false, "Module paths (.psd1, .psm1 or a module directory) imported before the script runs; relative to working_directory."),
        new("execution_policy", ParameterType.String, false, "The execution policy of the session, where PowerShell has one (Windows); ignored on Linux and macOS.", ExecutionPolicies),
        new("working_directory", ParameterType.String, false, "The script's current location; default the worker's current directory."),
        new("allow_errors", ParameterType.Boolean, false, "When true, non-terminating errors (Write-Error, a failed cmdlet that went on) do not fail the step; default false."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["output", "value", "errors", "warnings", "verbose", "information", "debug"];

    /// <inheritdoc/>
    public SideEffect Classify(JsonObject with)
    {
        ArgumentNullException.ThrowIfNull(with);
        try
        {
            return TryScriptOf(with) is { } script && ScriptText.SupportsShouldProcess(script.Text) ? SideEffect.Mutating : SideEffect.Destructive;
        }
        catch (StepException)
        {
            return SideEffect.Destructive;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<InputProblem> CheckInput(string parameter, string text) =>
        parameter is "script" or "file" ? ScriptText.SyntaxErrors(text ?? string.Empty) : [];

    /// <inheritdoc/>
    public string? CheckKeys(IReadOnlyCollection<string> given)
    {
        ArgumentNullException.ThrowIfNull(given);
        return (given.Contains("script"), given.Contains("file")) switch
        {
            (false, false) => "action 'powershell' needs the script: give 'script' (inline) or 'file' (a .ps1 beside the runbook)",
            (true, true) => "action 'powershell' takes 'script' or 'file', not both",
            _ => null,
        };
    }

    /// <inheritdoc/>
    /// <remarks>The errors, warnings, information and verbose records the script wrote: at most 20 of each, 500 characters each.</remarks>
    public JsonObject? TimelineRecord(JsonObject result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var record = new JsonObject();
        foreach (var (stream, field) in new[] { ("errors", "text"), ("warnings", null), ("information", null), ("verbose", null) })
        {
            if (result[stream] is JsonArray { Count: > 0 } items)
            {
                record[stream] = new JsonArray([.. items.Take(20).Select(i => JsonValue.Create(Shorten((field is null ? i : i?[field])?.ToString() ?? string.Empty)))]);
                if (items.Count > 20)
                {
                    record[stream + "_dropped"] = items.Count - 20;
                }
            }
        }

        return record.Count == 0 ? null : record;

        static string Shorten(string text) => text.Length <= 500 ? text : text[..500] + "...";
    }

    /// <inheritdoc/>
    public async Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var script = ScriptOf(request.With);
        var details = With(("script", script.Display), ("lines", script.Text.Split('\n').Length), ("parameters", new JsonArray([.. ParametersOf(request.With).Select(p => JsonValue.Create(p.Key))])), ("language_mode", With(request.With, "language_mode") ?? "full"), ("working_directory", With(request.With, "working_directory")));
        if (!ScriptText.SupportsShouldProcess(script.Text))
        {
            details["previewable"] = false;
            return new ActionPlan(Name, "run", script.Display, $"would run the PowerShell script {script.Display}; it cannot be previewed: it does not declare [CmdletBinding(SupportsShouldProcess)], so -WhatIf would not reach what it does (a run an alert starts asks for approval before running it)", SideEffect.Destructive, details);
        }

        details["previewable"] = true;
        try
        {
            var preview = await InvokeAsync(request, script, whatIf: true, cancellationToken).ConfigureAwait(false);
            details["what_if"] = new JsonArray([.. preview.WhatIf.Select(w => JsonValue.Create(w))]);
            var summary = preview.WhatIf.Count == 0
                ? $"would run the PowerShell script {script.Display}: its -WhatIf preview reports no change"
                : $"would run the PowerShell script {script.Display}: " + string.Join("; ", preview.WhatIf.Select(w => w.TrimEnd('.')));
            return new ActionPlan(Name, "run", script.Display, summary, SideEffect.Mutating, details);
        }
        catch (StepException ex)
        {
            details["preview_error"] = ex.Message;
            return new ActionPlan(Name, "run", script.Display, $"would run the PowerShell script {script.Display}; its -WhatIf preview failed ({ex.Kind}: {ex.Message})", SideEffect.Mutating, details);
        }
    }

    /// <inheritdoc/>
    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var script = ScriptOf(request.With);
        var run = await InvokeAsync(request, script, whatIf: false, cancellationToken).ConfigureAwait(false);
        foreach (var warning in run.Result["warnings"]!.AsArray())
        {
            LogWarning(request.Logger, request.StepId, warning!.GetValue<string>());
        }

        var errors = run.Result["errors"]!.AsArray();
        foreach (var error in errors)
        {
            LogError(request.Logger, request.StepId, error!["message"]!.GetValue<string>());
        }

        if (errors.Count > 0 && !Flag(request.With, "allow_errors"))
        {
            throw new StepException("PowerShellErrors", $"the script {script.Display} wrote {errors.Count} error{(errors.Count == 1 ? string.Empty : "s")}; the first: {errors[0]!["text"]!.GetValue<string>()} (allow_errors: true lets a step with non-terminating errors succeed)");
        }

        return run.Result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "step {Step}: PowerShell warning: {Text}")]
    private static partial void LogWarning(ILogger logger, string step, string text);

    [LoggerMessage(Level = LogLevel.Error, Message = "step {Step}: PowerShell error: {Text}")]
    private static partial void LogError(ILogger logger, string step, string text);

    private async Task<(JsonObject Result, IReadOnlyList<string> WhatIf)> InvokeAsync(ActionRequest request, Script script, bool whatIf, CancellationToken cancellationToken)
    {
        var settings = SettingsOf(request.With);
        var directory = DirectoryOf(request.With);
        var rented = await pool.RentAsync(settings, cancellationToken).ConfigureAwait(false);
        var reusable = true;
        try
        {
            rented.Host.Reset();
            var session = rented.Runspace.SessionStateProxy;
            session.Path.SetLocation(WildcardPattern.Escape(directory));
            session.SetVariable("RunbookStep", StepVariable(request));
            CheckParameters(script, request.With);
            using var ps = PS.Create();
            ps.Runspace = rented.Runspace;
            ps.AddScript(script.Text, useLocalScope: true);
            foreach (var (name, value) in ParametersOf(request.With))
            {
                ps.AddParameter(name, ScriptText.ToPowerShell(value));
            }

            if (whatIf)
            {
                ps.AddParameter("WhatIf", true);
            }

            PSDataCollection<PSObject> output;
            var stop = cancellationToken.Register(() => ps.BeginStop(null, null));
            try
            {
                output = await ps.InvokeAsync().ConfigureAwait(false);
            }
            catch (PipelineStoppedException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("the step's timeout or the run's cancel stopped the PowerShell pipeline", cancellationToken);
            }
            catch (ParameterBindingException ex)
            {
                throw new StepException("InvalidInput", $"powershell: {script.Display}: {ex.Message}", nonRetryable: true);
            }
            catch (ParseException ex)
            {
                throw new StepException("PowerShellSyntax", $"powershell: {script.Display} does not parse: {ex.Message}", nonRetryable: true);
            }
            catch (RuntimeException ex)
            {
                throw new StepException("PowerShellError", $"the script {script.Display} stopped with a terminating error: {Describe(ex.ErrorRecord)}");
            }
            finally
            {
                await stop.DisposeAsync().ConfigureAwait(false);
            }

            return (Result(output, ps.Streams), rented.Host.WhatIf.ToList());
        }
        catch (Exception ex) when (ex is PSInvalidOperationException or InvalidRunspaceStateException)
        {
            reusable = false;
            throw new StepException("PowerShellHost", $"powershell: the runspace could not run the script: {ex.Message}");
        }
        catch (ItemNotFoundException ex)
        {
            throw new StepException("InvalidInput", $"powershell: working directory '{directory}': {ex.Message}", nonRetryable: true);
        }
        finally
        {
            if (reusable)
            {
                pool.Return(rented);
            }
            else
            {
                RunspacePool.Discard(rented);
            }
        }
    }

    /// <summary>
    /// Refuses a parameter the script does not declare: a simple script would otherwise drop it into $args and run
    /// without it, a typo in a runbook becoming a silent no-op.
    /// </summary>
    private static void CheckParameters(Script script, JsonObject with)
    {
        var given = ParametersOf(with).Select(p => p.Key).ToList();
        if (given.Count == 0)
        {
            return;
        }

        var declared = ScriptText.DeclaredParameters(script.Text);
        var unknown = given.Where(g => !declared.Contains(g)).ToList();
        if (unknown.Count > 0)
        {
            var takes = declared.Where(d => !ScriptText.CommonParameters.Contains(d)).ToList();
            throw new StepException("InvalidInput", $"powershell: {script.Display} declares no parameter {string.Join(", ", unknown.Select(u => $"'{u}'"))}; " + (takes.Count == 0 ? "it has no param() block: add one, e.g. param([string]$" + unknown[0] + ")" : $"its param() block takes {string.Join(", ", takes)}"), nonRetryable: true);
        }
    }

    private static JsonObject Result(PSDataCollection<PSObject> output, PSDataStreams streams)
    {
        var objects = new JsonArray();
        foreach (var o in output.Take(MaxItems))
        {
            objects.Add(ScriptText.ToJson(o));
        }

        var result = With(
            ("output", objects),
            ("value", objects.Count > 0 ? objects[^1]?.DeepClone() : null),
            ("errors", new JsonArray([.. streams.Error.Take(MaxItems).Select(ErrorJson)])),
            ("warnings", Texts(streams.Warning.Select(w => w.Message))),
            ("verbose", Texts(streams.Verbose.Select(v => v.Message))),
            ("information", Texts(streams.Information.Select(i => i.MessageData?.ToString() ?? string.Empty))),
            ("debug", Texts(streams.Debug.Select(d => d.Message))));
        if (output.Count > MaxItems)
        {
            result["output_dropped"] = output.Count - MaxItems;
        }

        return result;
    }

    private static JsonArray Texts(IEnumerable<string> texts) => new([.. texts.Take(MaxItems).Select(t => JsonValue.Create(t))]);

    private static JsonObject ErrorJson(ErrorRecord e) => With(
        ("message", e.Exception?.Message ?? e.ToString()),
        ("category", e.CategoryInfo.Category.ToString()),
        ("error_id", e.FullyQualifiedErrorId),
        ("line", LineOf(e)),
        ("column", e.InvocationInfo?.OffsetInLine is > 0 and var column ? column : null),
        ("text", Describe(e)));

    /// <summary>An error record in one line: category, message and where in the script.</summary>
    private static string Describe(ErrorRecord e) =>
        $"{e.CategoryInfo.Category}: {e.Exception?.Message ?? e.ToString()}"
        + (LineOf(e) is { } line ? e.InvocationInfo?.OffsetInLine is > 0 and var column ? $" (script line {line}, column {column})" : $" (script line {line})" : string.Empty);

    /// <summary>
    /// The script line an error came from: the failed command's, or (for Write-Error, whose record names no command)
    /// the innermost frame of the script stack, "at &lt;ScriptBlock&gt;, &lt;No file&gt;: line 3".
    /// </summary>
    private static int? LineOf(ErrorRecord e) =>
        e.InvocationInfo?.ScriptLineNumber is > 0 and var line ? line
        : e.ScriptStackTrace is { } stack && StackLine().Match(stack) is { Success: true } m ? int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture)
        : null;

    [GeneratedRegex(@": line (\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex StackLine();

    private static PSObject StepVariable(ActionRequest request)
    {
        var step = new PSObject();
        step.Properties.Add(new PSNoteProperty("RunId", request.RunId));
        step.Properties.Add(new PSNoteProperty("StepId", request.StepId));
        step.Properties.Add(new PSNoteProperty("Attempt", request.Attempt));
        step.Properties.Add(new PSNoteProperty("IdempotencyKey", request.IdempotencyKey));
        step.Properties.Add(new PSNoteProperty("StepKey", request.StepKey));
        return step;
    }

    private static Script ScriptOf(JsonObject with) =>
        TryScriptOf(with) ?? throw new StepException("InvalidInput", "powershell: give the script as 'script' (inline) or 'file' (a .ps1 beside a YAML runbook)", nonRetryable: true);

    private static Script? TryScriptOf(JsonObject with) => (with["script"], with["file"]) switch
    {
        (JsonValue s, null) when s.TryGetValue<string>(out var text) => new Script(text, $"(inline, {text.Split('\n').Length} lines)"),
        (null, JsonObject f) when f["content"] is JsonValue c && c.TryGetValue<string>(out var text) => new Script(text, f["path"]?.ToString() ?? "(file)"),
        (null, JsonValue f) when f.TryGetValue<string>(out var path) => throw new StepException("InvalidInput", $"powershell: 'file: {path}' is read when a YAML runbook is loaded; here it was not (a C# script runbook passes the text as 'script')", nonRetryable: true),
        (not null, not null) => throw new StepException("InvalidInput", "powershell: takes 'script' or 'file', not both", nonRetryable: true),
        _ => null,
    };

    private static IEnumerable<KeyValuePair<string, JsonNode?>> ParametersOf(JsonObject with) =>
        with["parameters"] is JsonObject p ? p : [];

    private static SessionSettings SettingsOf(JsonObject with)
    {
        var mode = (With(with, "language_mode") ?? "full").ToLowerInvariant() switch
        {
            "full" => PSLanguageMode.FullLanguage,
            "constrained" => PSLanguageMode.ConstrainedLanguage,
            var other => throw new StepException("InvalidInput", $"powershell: 'language_mode' is full or constrained, not '{other}'", nonRetryable: true),
        };
        PSExecutionPolicy? policy = With(with, "execution_policy") is { } text
            ? Enum.TryParse<PSExecutionPolicy>(text, ignoreCase: true, out var p) && Enum.IsDefined(p) ? p : throw new StepException("InvalidInput", $"powershell: 'execution_policy' is one of {string.Join(", ", ExecutionPolicies)}, not '{text}'", nonRetryable: true)
            : null;

        // PowerShell has execution policies only on Windows; elsewhere setting one throws PlatformNotSupportedException.
        policy = OperatingSystem.IsWindows() ? policy : null;
        var directory = DirectoryOf(with);
        var modules = with["modules"] is JsonArray list
            ? string.Join('\n', list.Select(m => Path.GetFullPath(m?.ToString() ?? string.Empty, directory)))
            : string.Empty;
        return mode == PSLanguageMode.FullLanguage && policy is null && modules.Length == 0 ? SessionSettings.Default : new SessionSettings(mode, modules, policy);
    }

    private static string DirectoryOf(JsonObject with)
    {
        var directory = With(with, "working_directory") is { } d ? Path.GetFullPath(d) : Environment.CurrentDirectory;
        return Directory.Exists(directory) ? directory : throw new StepException("InvalidInput", $"powershell: working directory '{directory}' does not exist", nonRetryable: true);
    }

    private static string? With(JsonObject with, string key) => with[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : with[key]?.ToJsonString();

    private static bool Flag(JsonObject with, string key) => with[key] is JsonValue v && ((v.TryGetValue<bool>(out var b) && b) || (v.TryGetValue<string>(out var s) && bool.TryParse(s, out var parsed) && parsed));

    private static JsonObject With(params (string Key, JsonNode? Value)[] fields) => new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    /// <summary>A script's text and how it is named in plans and messages.</summary>
    private sealed record Script(string Text, string Display);
}
