using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills;

/// <summary>
/// Answers every action call of a drill's run from the scenario: no action's own code runs, so nothing leaves the
/// drill (no process, no HTTP, no cloud call) and no secret is resolved.
/// </summary>
internal sealed class DrillScenario(Drill drill, ActionCatalog actions, VirtualClock clock)
{
    private readonly Lock gate = new();
    private readonly Dictionary<(string Step, string Role), int> answered = [];
    private readonly List<DrillCall> calls = [];
    private readonly List<string> notes = [];
    private readonly HashSet<DrillFault> struck = [];

    public IReadOnlyList<DrillCall> Calls
    {
        get
        {
            lock (gate)
            {
                return [.. calls];
            }
        }
    }

    public IReadOnlyList<string> Notes
    {
        get
        {
            lock (gate)
            {
                return [.. notes];
            }
        }
    }

    public int Unanswered { get; private set; }

    /// <summary>Gets or sets what the replay does when a call meets one of the drill's faults (kills the worker, takes the store down).</summary>
    public Func<DrillFault, Task>? Strike { get; set; }

    /// <summary>The drill's activities in place of the actions' own: <c>action:NAME</c> and <c>plan:NAME</c> for every action.</summary>
    public ActivityRegistry Activities()
    {
        var registry = new ActivityRegistry();
        foreach (var action in actions.All)
        {
            registry.Add(RunbookActivities.ActivityName(action.Name), sc => AnswerAsync(action, sc));
            registry.Add(RunbookActivities.PlanActivityName(action.Name), sc => Task.FromResult(Plan(action, sc)));
        }

        return registry;
    }

    public void Note(string note)
    {
        lock (gate)
        {
            notes.Add(note);
        }
    }

    private static string RoleOf(IStepContext sc) =>
        sc.StepName.Contains("/verify", StringComparison.Ordinal) ? "verify"
        : sc.StepName.Contains("/compensate", StringComparison.Ordinal) ? "compensate"
        : "action";

    private static (string Step, JsonObject With) Payload(IStepContext sc) =>
        (sc.Input?["step"]?.GetValue<string>() ?? sc.StepName, sc.Input?["with"] as JsonObject ?? []);

    private TimeSpan Offset => clock.GetUtcNow() - drill.Start;

    private JsonNode? Plan(IRunbookAction action, IStepContext sc)
    {
        var (step, with) = Payload(sc);
        var effect = action.Classify(with);
        var given = drill.Steps.TryGetValue(step, out var script) ? script.Plan : null;
        lock (gate)
        {
            calls.Add(new DrillCall(step, "plan", action.Name, sc.Attempt, Offset, (JsonObject)with.DeepClone(), Effect(effect), given is null ? "made-up plan" : "plan from the drill"));
        }

        var plan = new ActionPlan(
            action.Name,
            given?["operation"]?.GetValue<string>() ?? "drill",
            given?["target"]?.GetValue<string>() ?? step,
            given?["summary"]?.GetValue<string>() ?? $"would call {action.Name} with {with.ToJsonString(WorkflowJson.Options)}",
            effect,
            given?["details"] as JsonObject);
        return JsonSerializer.SerializeToNode(plan, WorkflowJson.Options);
    }

    private async Task<JsonNode?> AnswerAsync(IRunbookAction action, IStepContext sc)
    {
        var (step, with) = Payload(sc);
        var role = RoleOf(sc);
        var answers = drill.Steps.TryGetValue(step, out var script)
            ? role switch { "verify" => script.Verify, "compensate" => script.Compensate, _ => script.Calls }
            : null;
        answers ??= drill.Actions.GetValueOrDefault(action.Name);
        DrillAnswer? answer;
        DrillFault? fault;
        lock (gate)
        {
            fault = role == "action" ? drill.Faults.FirstOrDefault(f => f.Step == step && f.Attempt == sc.Attempt && !struck.Contains(f)) : null;
            if (fault is not null)
            {
                struck.Add(fault);
            }

            if (fault?.Kind == DrillFaultKind.WorkerDies)
            {
                // The call never gets its answer: the next attempt gets the one this call would have had.
                calls.Add(new DrillCall(step, role, action.Name, sc.Attempt, Offset, (JsonObject)with.DeepClone(), Effect(action.Classify(with)), "the worker died during the call"));
            }
        }

        if (fault is not null && Strike is { } strike)
        {
            await strike(fault).ConfigureAwait(false);
        }

        if (fault?.Kind == DrillFaultKind.WorkerDies)
        {
            // Killed: the attempt is abandoned, nothing of it is committed.
            await new TaskCompletionSource().Task.WaitAsync(sc.CancellationToken).ConfigureAwait(false);
        }

        lock (gate)
        {
            var n = answered.GetValueOrDefault((step, role));
            answered[(step, role)] = n + 1;
            answer = answers?.For(n);
            calls.Add(new DrillCall(step, role, action.Name, sc.Attempt, Offset, (JsonObject)with.DeepClone(), Effect(action.Classify(with)), answer?.Describe()));
            if (answer is null)
            {
                Unanswered++;
                notes.Add($"step '{step}' called {action.Name} ({role}) at {Format(Offset)} and the drill gives no answer: add steps.{step}{(role == "action" ? string.Empty : "." + role)} or actions.{action.Name}");
            }
        }

        if (answer is null)
        {
            throw new StepException("DrillUnanswered", $"the drill gives no answer for step '{step}' ({action.Name})", nonRetryable: true);
        }

        if (answer.Hang)
        {
            // Nothing but the attempt's own timeout (or a cancel) ends a hung call; without one it would hang forever.
            if (clock.AdvanceTo(drill.Start + drill.Horizon, sc.CancellationToken))
            {
                Note($"step '{step}' hung at {Format(Offset)} and nothing ended it before the drill's horizon ({Format(drill.Horizon)}): give the step a timeout");
                throw new StepException("Hung", $"step '{step}' hung and nothing ended it within the drill's horizon", nonRetryable: true);
            }

            sc.CancellationToken.ThrowIfCancellationRequested();
        }

        if (answer.Latency > TimeSpan.Zero && !clock.AdvanceTo(clock.GetUtcNow() + answer.Latency, sc.CancellationToken))
        {
            sc.CancellationToken.ThrowIfCancellationRequested();
        }

        if (answer.ErrorKind is not null)
        {
            throw new StepException(answer.ErrorKind, answer.Message ?? answer.ErrorKind, answer.NonRetryable);
        }

        return answer.Result!.DeepClone();
    }

    private static string Effect(SideEffect effect) => effect switch
    {
        SideEffect.ReadOnly => "read-only",
        SideEffect.Mutating => "mutating",
        _ => "destructive",
    };

    internal static string Format(TimeSpan t) => t == TimeSpan.Zero ? "0s" : "T+" + Durations.Format(t);
}
