namespace RunbookEngine.Runbooks.Model;

/// <summary>A parsed, valid runbook.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">What it does.</param>
/// <param name="Inputs">Its inputs.</param>
/// <param name="Steps">Its steps.</param>
/// <param name="Outputs">Its outputs.</param>
/// <param name="MaxLoops">How often a step may run in one run (goto loops); default 10.</param>
/// <param name="File">The file it came from.</param>
/// <param name="Source">Its YAML text, the content of its pinned definition.</param>
public sealed record Runbook(
    string Name,
    string? Description,
    IReadOnlyList<RunbookInput> Inputs,
    IReadOnlyList<RunbookStep> Steps,
    IReadOnlyList<(string Name, Template Value)> Outputs,
    int MaxLoops,
    string File,
    string Source)
{
    /// <summary>Gets the alerts that start this runbook.</summary>
    public IReadOnlyList<TriggerSpec> Triggers { get; init; } = [];

    /// <summary>Gets its guards, if it declares any.</summary>
    public GuardSpec? Guards { get; init; }

    /// <summary>Gets the language it is written in.</summary>
    public RunbookLanguage Language { get; init; } = RunbookLanguage.Yaml;

    /// <summary>
    /// Gets the files its <c>file:</c> inputs name (path relative to the runbook, text), read when it was loaded and
    /// pinned with it in every run's definition.
    /// </summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Gets when the compensations of the steps that succeeded run (<c>compensate_on</c>): after a step fails the run
    /// (<c>failure</c>, the default), after the run is cancelled (<c>cancel</c>), both, or never (an empty list).
    /// </summary>
    public CompensateOn CompensateOn { get; init; } = CompensateOn.Failure;

    /// <summary>Gets the outputs a C# script runbook declares (name and description); it sets them with <c>Output(name, value)</c>.</summary>
    public IReadOnlyList<ScriptOutput> ScriptOutputs { get; init; } = [];
}
