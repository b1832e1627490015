using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Runbooks.Tests.Compliance;

/// <summary>
/// One engine under the interpreter compliance suite: runbooks in a directory, the service over the engine's
/// <see cref="Workflows.IRunClient"/>, and a way to let the engine work and to skip its time.
/// </summary>
public interface IRunbookEngineHarness : IAsyncDisposable
{
    /// <summary>Gets the engine's name as shown in test output.</summary>
    string Engine { get; }

    /// <summary>Gets the directory the service finds runbooks in (also a scratch directory for the tests).</summary>
    string RunbookDirectory { get; }

    /// <summary>Gets the runbook service over the engine's run client: what the CLI and the server use.</summary>
    LocalRunbookService Service { get; }

    /// <summary>Lets the engine execute everything that is due now, until nothing more is.</summary>
    /// <returns>A task.</returns>
    Task DriveAsync();

    /// <summary>Skips the engine's clock forward, then drives it.</summary>
    /// <param name="by">How far.</param>
    /// <returns>A task.</returns>
    Task AdvanceAsync(TimeSpan by);
}
