namespace RunbookEngine.Cli;

/// <summary>The CLI's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Success (a run that completed).</summary>
    public const int Ok = 0;

    /// <summary>A run failed, was rejected or cancelled; or an operation was refused or the store failed.</summary>
    public const int Failed = 1;

    /// <summary>Invalid input: a wrong flag, an invalid runbook, a missing input, an unknown run or runbook.</summary>
    public const int Invalid = 2;

    /// <summary>A guard refused to start the run (stored as blocked; <c>runbook guards</c> shows why).</summary>
    public const int Blocked = 3;

    /// <summary>Interrupted by Ctrl-C while following a run (the run itself is left as it is).</summary>
    public const int Interrupted = 130;
}
