using System.Text.Json.Nodes;

namespace RunbookEngine.Runbooks;

/// <summary>
/// How a run of a live drill that marks only some steps live (<c>live.steps</c>) answers the others: from the
/// drill's scenario, carried in the run's input (<c>drill_script</c>), so every worker, every replay of the run and
/// every engine gives the same answers, and no action of such a step runs. The shape:
/// <c>{ "live": [step ids], "all_live": bool, "compensate_on_cancel": bool, "steps": { id: { "action"|"verify"|"compensate": [answer...] } }, "actions": { name: [answer...] } }</c>
/// (<c>all_live</c>: every action runs, the drill marks none; <c>compensate_on_cancel</c>: a cancel, such as a
/// breached stop condition, undoes the run's steps whatever the runbook's <c>compensate_on</c>),
/// each answer <c>{ respond: {...} } | { fail: KIND, message, non_retryable } | { hang: true }</c> with optional
/// <c>latency_ms</c> and <c>times</c> (how many calls it serves; the last serves every call after).
/// </summary>
internal sealed class DrillScript
{
    private readonly JsonObject json;
    private readonly HashSet<string> live;

    // Calls made so far per step and role: counted by the interpreter, so they are the same on every replay.
    private readonly Dictionary<(string Step, string Role), int> calls = [];

    private DrillScript(JsonObject json)
    {
        this.json = json;
        live = json["live"] is JsonArray steps ? [.. steps.Select(s => s?.GetValue<string>()).OfType<string>()] : [];
    }

    /// <summary>The script of a run's input, or null for a run whose actions all run.</summary>
    public static DrillScript? From(JsonObject? json) => json is null ? null : new DrillScript(json);

    /// <summary>Gets a value indicating whether a cancel of the run undoes its steps (a game day rolls back when it stops).</summary>
    public bool CompensateOnCancel => json["compensate_on_cancel"]?.GetValue<bool>() == true;

    /// <summary>Whether a step's actions run for real.</summary>
    public bool IsLive(string step) => json["all_live"]?.GetValue<bool>() == true || live.Contains(step);

    /// <summary>The answers for the next call of a step in a role, and how many calls of it were answered before.</summary>
    public (JsonArray? Answers, int Before) Next(string step, string role, string action)
    {
        var answers = json["steps"]?[step]?[role] as JsonArray ?? json["actions"]?[action] as JsonArray;
        var before = calls.GetValueOrDefault((step, role));
        calls[(step, role)] = before + 1;
        return (answers, before);
    }

    /// <summary>The role of a call at a position: a step's verify poll, its compensation, or its action.</summary>
    public static string RoleOf(string position) =>
        position.Contains("/verify", StringComparison.Ordinal) ? "verify"
        : position.Contains("/compensate", StringComparison.Ordinal) ? "compensate"
        : "action";

    /// <summary>The answer to the call with this 0-based index.</summary>
    public static JsonObject? Pick(JsonArray answers, int call)
    {
        var left = call;
        foreach (var answer in answers.OfType<JsonObject>())
        {
            var times = answer["times"]?.GetValue<int>() ?? 1;
            if (left < times)
            {
                return answer;
            }

            left -= times;
        }

        return answers.OfType<JsonObject>().LastOrDefault();
    }
}
