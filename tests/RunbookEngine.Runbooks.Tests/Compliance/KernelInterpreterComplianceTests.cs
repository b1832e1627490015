namespace RunbookEngine.Runbooks.Tests.Compliance;

/// <summary>The interpreter compliance suite on the built-in kernel (SQLite).</summary>
public sealed class KernelInterpreterComplianceTests : InterpreterCompliance
{
    protected override async Task<IRunbookEngineHarness> CreateHarnessAsync() => await KernelEngineHarness.CreateAsync();
}
