namespace RunbookEngine.Cli;

/// <summary>What the CLI reads and writes, so tests can run it in-process.</summary>
/// <param name="Out">Standard output.</param>
/// <param name="Error">Standard error.</param>
/// <param name="Environment">Environment variables.</param>
public sealed record CliIo(TextWriter Out, TextWriter Error, Func<string, string?> Environment)
{
    /// <summary>Gets the real console and environment.</summary>
    /// <returns>The console I/O.</returns>
    public static CliIo FromConsole() => new(Console.Out, Console.Error, System.Environment.GetEnvironmentVariable);
}
