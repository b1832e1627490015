using System.Text.RegularExpressions;

namespace RunbookEngine.Runbooks.Model;

/// <summary>How a triggered run runs.</summary>
public enum TriggerMode
{
    /// <summary>For real.</summary>
    Live,

    /// <summary>Plans only: shows what it would do, changes nothing.</summary>
    DryRun,

    /// <summary>Live, but the run waits for an approval before its first step that changes something.</summary>
    Approval,
}

/// <summary>One Alertmanager-style label matcher: <c>name = value</c>, <c>!=</c>, <c>=~</c> (regex) or <c>!~</c>.</summary>
/// <param name="Label">The label name.</param>
/// <param name="Op">The operator.</param>
/// <param name="Value">The value or the regex.</param>
public sealed record AlertMatcher(string Label, string Op, string Value)
{
    private readonly Regex? regex = Op is "=~" or "!~" ? new Regex("^(?:" + Value + ")$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)) : null;

    /// <summary>Whether labels satisfy the matcher; a missing label is the empty string, as in Alertmanager.</summary>
    /// <param name="labels">The alert's labels.</param>
    /// <returns>Whether it matches.</returns>
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var actual = labels.GetValueOrDefault(Label) ?? string.Empty;
        return Op switch
        {
            "=" => actual == Value,
            "!=" => actual != Value,
            "=~" => regex!.IsMatch(actual),
            _ => !regex!.IsMatch(actual),
        };
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Label}{Op}\"{Value}\"";
}

/// <summary>A runbook's <c>triggers:</c> entry: which alerts start it, with which inputs, how.</summary>
/// <param name="Source">Only alerts from this source (alertmanager, grafana, pagerduty, azure-monitor, or a generic source's name), or null for any.</param>
/// <param name="Match">Matchers that must all hold on the alert's labels.</param>
/// <param name="Inputs">The runbook's inputs from the alert (<c>${{ alert.labels.instance }}</c>).</param>
/// <param name="Mode">Live, dry-run or approval.</param>
/// <param name="CancelOnResolved">Whether a resolved alert cancels a run still waiting for an approval.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record TriggerSpec(
    string? Source,
    IReadOnlyList<AlertMatcher> Match,
    IReadOnlyList<(string Name, Template Value)> Inputs,
    TriggerMode Mode,
    bool CancelOnResolved,
    SourceLocation Location)
{
    /// <summary>
    /// Gets who approves the gate the engine adds to the runs this trigger starts (<c>approval:</c>): before the
    /// first change with <c>mode: approval</c>, and before a destructive step unless <see cref="AllowDestructive"/>.
    /// Null when the trigger names no approvers.
    /// </summary>
    public ApprovalSpec? Approval { get; init; }

    /// <summary>Gets a value indicating whether destructive steps run without an approval (<c>destructive: allow</c>).</summary>
    public bool AllowDestructive { get; init; }
}
