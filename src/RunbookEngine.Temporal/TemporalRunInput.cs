using System.Text.Json.Nodes;

namespace RunbookEngine.Temporal;

/// <summary>
/// The input of a runbook's Temporal workflow. The definition travels in it, so the run is pinned to the text it
/// started with (Temporal keeps it in the workflow's history) and editing the runbook never changes it.
/// </summary>
/// <param name="Workflow">The runbook (workflow) name.</param>
/// <param name="DefinitionContent">The pinned definition's content (the compiled runbook envelope).</param>
/// <param name="DefinitionHash">Its hash, as the kernel computes it.</param>
/// <param name="Input">The run's input: inputs, dry-run flag, gate, retry-of data.</param>
/// <param name="StartedBy">Who started the run (<c>user:alice</c>, <c>alert:alertmanager/DiskFull</c>).</param>
/// <param name="Created">The data of its <c>run.created</c> event (the trigger alert, the file, retry-of), as on the kernel.</param>
/// <param name="Blocked">Why a guard refused the run, when it did: the run then ends at once as blocked.</param>
/// <param name="TraceParent">The W3C traceparent of the run's trace (the alert request's, or the start's), handed to every activity.</param>
/// <param name="GuardKind">The guard's decision as a timeline kind (<c>guard.allowed</c>, <c>guard.blocked</c>) of a guarded run, or null.</param>
/// <param name="GuardData">That decision's event data, as the kernel records it.</param>
public sealed record TemporalRunInput(string Workflow, string DefinitionContent, string DefinitionHash, JsonNode? Input, string StartedBy, JsonObject? Created = null, string? Blocked = null, string? TraceParent = null, string? GuardKind = null, string? GuardData = null);
