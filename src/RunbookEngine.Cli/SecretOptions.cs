using RunbookEngine.Actions;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli;

/// <summary>Options that take a secret: only as a reference, so that the secret is not in the process list or the shell history.</summary>
internal static class SecretOptions
{
    /// <summary>The secret a reference names.</summary>
    /// <param name="option">The option, for the error (e.g. <c>--pagerduty-secret</c>).</param>
    /// <param name="reference">secret://env/NAME or secret://file/PATH.</param>
    /// <returns>The secret.</returns>
    /// <exception cref="CliException">Not a reference, or it names nothing (exit 2).</exception>
    public static string Resolve(string option, string reference)
    {
        if (!Secrets.IsReference(reference) || Secrets.CheckReference(reference) is not null)
        {
            throw new CliException($"{option} takes a secret reference (secret://env/NAME or secret://file/PATH), so that the secret is not in the process list or the shell history", ExitCodes.Invalid);
        }

        try
        {
            return Secrets.ResolveReference(reference);
        }
        catch (StepException ex)
        {
            throw new CliException($"{option}: {ex.Message}", ExitCodes.Invalid);
        }
    }
}
