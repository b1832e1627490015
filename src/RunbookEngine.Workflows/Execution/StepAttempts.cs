namespace RunbookEngine.Workflows.Execution;

/// <summary>What inline steps and queue activities decide alike about one attempt.</summary>
internal static class StepAttempts
{
    /// <summary>The error kind, message and retryability of what an attempt threw.</summary>
    public static (string Kind, string Message, bool NonRetryable) Classify(Exception ex) => ex switch
    {
        StepException se => (se.Kind, se.Message, se.NonRetryable),
        StepFailedException sf => (sf.ErrorKind, sf.Message, false),
        _ => (ex.GetType().Name, ex.Message, false),
    };

    /// <summary>The limit on this attempt: the attempt timeout, shortened to what is left of the step timeout.</summary>
    public static TimeSpan? Limit(StepOptions options, DateTimeOffset? deadline, DateTimeOffset now)
    {
        var limit = options.AttemptTimeout;
        if (deadline is { } d)
        {
            var remaining = d - now;
            limit = limit is { } a && a < remaining ? a : remaining;
        }

        return limit;
    }
}
