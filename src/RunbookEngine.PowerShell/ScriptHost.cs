using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace RunbookEngine.PowerShell;

/// <summary>
/// The host a worker's runspace runs under: nothing interactive (a prompt or Read-Host fails the step at once, since
/// no one is at a worker's console), and what PowerShell writes only to its host (the "What if:" lines of
/// ShouldProcess under -WhatIf) kept for the invocation that runs, so a plan can show them.
/// </summary>
/// <remarks>A runspace runs one pipeline at a time, so one host per runspace has one invocation's lines at a time.</remarks>
internal sealed class ScriptHost : PSHost
{
    private readonly ScriptHostUserInterface ui;

    public ScriptHost() => ui = new ScriptHostUserInterface(this);

    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;

    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;

    public override Guid InstanceId { get; } = Guid.NewGuid();

    public override string Name => "RunbookEngine";

    public override PSHostUserInterface UI => ui;

    public override Version Version => typeof(ScriptHost).Assembly.GetName().Version ?? new Version(1, 0);

    /// <summary>Gets the "What if:" lines written since <see cref="Reset"/>.</summary>
    public List<string> WhatIf { get; } = [];

    public void Reset() => WhatIf.Clear();

    public override void EnterNestedPrompt() => throw new NotSupportedException("a worker has no console: nested prompts are not supported");

    public override void ExitNestedPrompt() => throw new NotSupportedException("a worker has no console: nested prompts are not supported");

    public override void NotifyBeginApplication()
    {
    }

    public override void NotifyEndApplication()
    {
    }

    public override void SetShouldExit(int exitCode)
    {
        // 'exit N' in a script ends the script, not the worker.
    }

    internal void Line(string? text)
    {
        if (text is not null && text.StartsWith("What if:", StringComparison.Ordinal))
        {
            WhatIf.Add(text["What if:".Length..].Trim());
        }
    }
}

/// <summary>The user interface of <see cref="ScriptHost"/>: output goes to the streams the action reads; input is refused.</summary>
internal sealed class ScriptHostUserInterface(ScriptHost host) : PSHostUserInterface
{
    private const string NoConsole = "the script asked for input, but a runbook step runs unattended on a worker: pass what it needs as parameters";

    public override PSHostRawUserInterface RawUI { get; } = new ScriptHostRawUserInterface();

    public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) => throw new HostException(NoConsole);

    public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) => throw new HostException(NoConsole);

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw new HostException(NoConsole);

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new HostException(NoConsole);

    public override string ReadLine() => throw new HostException(NoConsole);

    public override SecureString ReadLineAsSecureString() => throw new HostException(NoConsole);

    // Write-Host and the like also reach the information stream, which is what the step's result keeps.
    public override void Write(string value)
    {
    }

    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value)
    {
    }

    public override void WriteLine(string value) => host.Line(value);

    public override void WriteDebugLine(string message)
    {
    }

    public override void WriteErrorLine(string value)
    {
    }

    public override void WriteProgress(long sourceId, ProgressRecord record)
    {
    }

    public override void WriteVerboseLine(string message)
    {
    }

    public override void WriteWarningLine(string message)
    {
    }
}

/// <summary>A fixed-size console, for cmdlets that format to the host's width.</summary>
internal sealed class ScriptHostRawUserInterface : PSHostRawUserInterface
{
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;

    public override Size BufferSize { get; set; } = new(160, 1000);

    public override Coordinates CursorPosition { get; set; }

    public override int CursorSize { get; set; } = 1;

    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;

    public override bool KeyAvailable => false;

    public override Size MaxPhysicalWindowSize => new(160, 1000);

    public override Size MaxWindowSize => new(160, 1000);

    public override Coordinates WindowPosition { get; set; }

    public override Size WindowSize { get; set; } = new(160, 50);

    public override string WindowTitle { get; set; } = "runbook";

    public override void FlushInputBuffer()
    {
    }

    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => new BufferCell[0, 0];

    public override KeyInfo ReadKey(ReadKeyOptions options) => throw new HostException("a runbook step runs unattended on a worker: it cannot read keys");

    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill)
    {
    }

    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents)
    {
    }

    public override void SetBufferContents(Rectangle rectangle, BufferCell fill)
    {
    }
}
