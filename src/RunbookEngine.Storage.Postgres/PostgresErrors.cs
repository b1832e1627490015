using System.Net.Sockets;
using Npgsql;
using RunbookEngine.Workflows;

namespace RunbookEngine.Storage.Postgres;

/// <summary>Classifies PostgreSQL and Npgsql errors and turns them into messages naming the problem, the database and what to do.</summary>
internal static class PostgresErrors
{
    /// <summary>Whether retrying the whole transaction later may succeed: the connection broke, the server is restarting, or the transaction lost a deadlock or serialization race.</summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState is "40001" or "40P01" or "57P01" or "57P02" or "57P03" or "53300" or "08000" or "08003" or "08006" or "08001" or "08004",
        NpgsqlException => true,
        SocketException or TimeoutException => true,
        IOException => true,
        _ => false,
    };

    /// <summary>Whether this error concerns only the statement that raised it (a savepoint can undo it), not the connection.</summary>
    public static bool IsStatementLevel(Exception ex) => ex is PostgresException pg && !IsTransient(pg);

    public static WorkflowStoreException Translate(Exception ex, string where) => ex switch
    {
        WorkflowStoreException w => w,
        PostgresException { SqlState: "28P01" or "28000" } pg => new WorkflowStoreException($"PostgreSQL at {where} refused the login: {pg.MessageText}. Check Username and Password in --store (or RUNBOOK_STORE).", ex),
        PostgresException { SqlState: "3D000" } pg => new WorkflowStoreException($"PostgreSQL at {where}: {pg.MessageText}. Create it first (createdb), or fix Database in --store.", ex),
        PostgresException { SqlState: "42501" } pg => new WorkflowStoreException($"PostgreSQL at {where} denied permission: {pg.MessageText}. The engine's user needs CREATE on the database (for its schema) or ownership of the schema.", ex),
        PostgresException { SqlState: "53100" } => new WorkflowStoreException($"PostgreSQL at {where} is out of disk space. Nothing of the failed write was saved; free space and retry.", ex),
        PostgresException { SqlState: "RB001" } pg => new WorkflowStoreException($"PostgreSQL at {where}: {pg.MessageText}; what is recorded cannot be changed, and is removed only by `runbook prune`.", ex),
        PostgresException { SqlState: "RB003" } pg => new WorkflowStoreException($"PostgreSQL at {where}: {pg.MessageText}.", ex),
        PostgresException pg when IsTransient(pg) => new WorkflowStoreException($"PostgreSQL at {where} is unavailable ({pg.SqlState}: {pg.MessageText}). The write was not applied; it is retried when the database is back.", ex),
        PostgresException pg => new WorkflowStoreException($"PostgreSQL error {pg.SqlState} at {where}: {pg.MessageText}", ex),
        NpgsqlException or SocketException or IOException or TimeoutException => new WorkflowStoreException($"Cannot reach PostgreSQL at {where}: {Innermost(ex).Message}. Is the server running and does --store name the right host and port?", ex),
        _ => new WorkflowStoreException($"PostgreSQL at {where}: {ex.Message}", ex),
    };

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
