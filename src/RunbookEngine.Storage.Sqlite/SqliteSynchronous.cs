namespace RunbookEngine.Storage.Sqlite;

/// <summary>SQLite's <c>synchronous</c> setting for the WAL journal.</summary>
public enum SqliteSynchronous
{
    /// <summary>
    /// Every commit is fsynced before it returns: a commit survives power loss. The default.
    /// </summary>
    Full,

    /// <summary>
    /// The WAL is fsynced only at checkpoints: faster commits; still safe against a process crash, but the last
    /// commits before a power loss or OS crash can be rolled back (the database stays consistent). A step that
    /// was recorded complete may then be executed again on recovery.
    /// </summary>
    Normal,
}
