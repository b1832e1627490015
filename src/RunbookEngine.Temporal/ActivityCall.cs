using System.Text.Json.Nodes;

namespace RunbookEngine.Temporal;

/// <summary>What a runbook workflow sends an activity: the interpreter's step name and position, and its JSON input.</summary>
/// <param name="Step">The step (position) name, e.g. <c>clean</c> or <c>clean/verify#2</c>.</param>
/// <param name="Sequence">The operation's position in the run, for the step and idempotency keys.</param>
/// <param name="Input">The activity's input, e.g. <c>{ "step": "clean", "with": { ... } }</c>.</param>
/// <param name="TraceParent">The run's traceparent: each attempt's span joins the run's trace.</param>
public sealed record ActivityCall(string Step, int Sequence, JsonNode? Input, string? TraceParent = null);
