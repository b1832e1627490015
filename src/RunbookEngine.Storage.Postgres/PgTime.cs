namespace RunbookEngine.Storage.Postgres;

/// <summary>Times are stored as timestamptz, truncated to the millisecond like every clock reading of the kernel.</summary>
internal static class PgTime
{
    public static DateTimeOffset ToDb(DateTimeOffset value) => DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());
}
