namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// Something received from outside that belongs to no run (an alert no trigger matched, one whose inputs were
/// invalid), kept so that what was accepted is never lost. The journal is append-only; the kernel does not
/// interpret it.
/// </summary>
/// <param name="At">When it was received.</param>
/// <param name="Source">Where it came from (e.g. <c>alertmanager</c>).</param>
/// <param name="Kind">What happened to it (e.g. <c>unmatched</c>).</param>
/// <param name="Subject">What it is about (e.g. the alert's name).</param>
/// <param name="Data">JSON details.</param>
public sealed record NewJournalEntry(DateTimeOffset At, string Source, string Kind, string Subject, string? Data);

/// <summary>A stored journal entry.</summary>
/// <param name="Id">Its position: increasing in the order of appends.</param>
/// <param name="At">When it was received.</param>
/// <param name="Source">Where it came from.</param>
/// <param name="Kind">What happened to it.</param>
/// <param name="Subject">What it is about.</param>
/// <param name="Data">JSON details.</param>
public sealed record JournalEntry(long Id, DateTimeOffset At, string Source, string Kind, string Subject, string? Data);

/// <summary>Which journal entries to list, newest first.</summary>
public sealed record JournalQuery
{
    /// <summary>Gets only this source, or null for all.</summary>
    public string? Source { get; init; }

    /// <summary>Gets only this kind, or null for all.</summary>
    public string? Kind { get; init; }

    /// <summary>Gets only entries before this id (paging), or null.</summary>
    public long? BeforeId { get; init; }

    /// <summary>Gets the most entries returned.</summary>
    public int Limit { get; init; } = 100;
}
