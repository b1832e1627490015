using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>What a prune removed (or, in a dry run, would remove).</summary>
/// <param name="Cutoff">Runs that ended, and entries received, before this instant.</param>
/// <param name="DryRun">Whether nothing was removed.</param>
/// <param name="Runs">Finished runs removed.</param>
/// <param name="Events">Their timeline events.</param>
/// <param name="JournalEntries">Journal entries removed.</param>
/// <param name="HeldByGuards">Finished runs before the cutoff kept because a guard has not yet counted their end.</param>
/// <param name="Exported">Runs exported before they were removed.</param>
/// <param name="Batches">Transactions that removed something.</param>
public sealed record PruneReport(
    [property: JsonPropertyName("cutoff")] DateTimeOffset Cutoff,
    [property: JsonPropertyName("dry_run")] bool DryRun,
    [property: JsonPropertyName("runs")] long Runs,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("journal_entries")] long JournalEntries,
    [property: JsonPropertyName("held_by_guards")] long HeldByGuards,
    [property: JsonPropertyName("exported")] long Exported,
    [property: JsonPropertyName("batches")] int Batches);
