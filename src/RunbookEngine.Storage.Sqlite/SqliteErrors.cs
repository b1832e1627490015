using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;

namespace RunbookEngine.Storage.Sqlite;

/// <summary>Turns SQLite's error codes into messages that name the problem, the file, and what to do.</summary>
internal static class SqliteErrors
{
    public static WorkflowStoreException Translate(SqliteException ex, string path, TimeSpan busyTimeout) => ex.SqliteErrorCode switch
    {
        5 or 6 => new WorkflowStoreException($"The database {path} is locked by another process (waited {busyTimeout.TotalSeconds:0.#} s). Another program holds a write lock on it; retry, or stop the process that holds it.", ex),
        8 => new WorkflowStoreException($"The database {path} cannot be written: the file or its directory is read-only (SQLite: {ex.Message}).", ex),
        10 => new WorkflowStoreException($"I/O error on the database {path} (SQLite: {ex.Message}). Nothing of the failed write was saved; check the disk.", ex),
        11 or 26 => new WorkflowStoreException($"The database {path} is corrupt or is not a RunbookEngine SQLite database (SQLite: {ex.Message}). Restore it from a backup, or point --store at another file.", ex),
        13 => new WorkflowStoreException($"The database {path} is full: the disk has no space left or the database reached its size cap. Nothing of the failed write was saved; free space and retry.", ex),
        14 when File.Exists(path) => new WorkflowStoreException($"The database {path} exists but cannot be opened for writing: the file, its directory or its filesystem is read-only (SQLite keeps {Path.GetFileName(path)}-wal and {Path.GetFileName(path)}-shm next to it, so the directory must be writable too). Nothing was changed; make it writable, or copy the file elsewhere to read it (SQLite: {ex.Message}).", ex),
        14 => new WorkflowStoreException($"The database {path} cannot be opened: its directory does not exist or is not accessible (SQLite: {ex.Message}).", ex),
        _ => new WorkflowStoreException($"SQLite error {ex.SqliteErrorCode} on the database {path}: {ex.Message}", ex),
    };
}
