using System.CommandLine;
using System.Diagnostics;
using System.CommandLine.Help;
using RunbookEngine.Cli.Commands;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Server;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli;

/// <summary>The <c>runbook</c> command line.</summary>
internal static class CliApp
{
    /// <summary>The assembly's one ActivitySource: a span per command, so a run started by <c>runbook run</c> is rooted at it.</summary>
    private static readonly ActivitySource Source = new("RunbookEngine.Cli");

    public static Command Build(CliIo io)
    {
        var globals = new GlobalOptions();
        // A plain command named "runbook" rather than RootCommand, whose name is the host process's
        // (it would read "testhost" under a test runner and "dotnet" under `dotnet runbook.dll`).
        var root = new Command("runbook", """
            runbook: write, check, dry-run, run, approve and inspect runbooks.
            Runs are durable: they live in the store (a SQLite file by default) and survive any process.

            Examples:
              runbook validate runbooks/
              runbook run disk-full-cleanup -p path=/var/log --dry-run
              runbook runs --status waiting
              runbook approve <run-id> -m "checked the graphs"
            """);
        root.Add(new HelpOption());
        root.Add(new VersionOption());
        foreach (var option in globals.All)
        {
            root.Add(option);
        }

        Func<ParseResult, CliSession> session = parse => new CliSession(parse, globals, io);
        root.Add(ValidateCommand.Create(session));
        root.Add(ListCommand.Create(session));
        root.Add(RunCommand.Create(session));
        root.Add(RunsCommand.Create(session));
        root.Add(StatusCommand.Create(session));
        root.Add(TimelineCommand.Create(session));
        root.Add(DecideCommand.Create(session, approve: true));
        root.Add(DecideCommand.Create(session, approve: false));
        root.Add(CancelCommand.Create(session));
        root.Add(RetryCommand.Create(session));
        root.Add(GuardsCommand.Create(session));
        root.Add(AlertsCommand.Create(session));
        root.Add(WorkerCommand.Create(session));
        root.Add(ServeCommand.Create(session));
        root.Add(TokenCommand.Create(session));
        root.Add(DrillCommand.Create(session));
        root.Add(PruneCommand.Create(session));
        root.Add(SchemaCommand.Create(session));
        return root;
    }

    /// <summary>
    /// How long a command may take to finish after Ctrl-C or SIGTERM (docker stop) before the process is ended
    /// anyway. A worker or server drains for up to 30 s (in-flight steps finish and are recorded); the two-second
    /// default of System.CommandLine ended it mid-step, leaving a step that had run unrecorded, to be run again
    /// after its lease. Every other command stops as soon as it is told to.
    /// </summary>
    internal static readonly TimeSpan TerminationGrace = TimeSpan.FromSeconds(35);

    public static async Task<int> InvokeAsync(string[] args, CliIo io, CancellationToken cancellationToken = default)
    {
        var root = Build(io);
        var parse = root.Parse(args.Length == 0 ? ["--help"] : args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            var command = parse.CommandResult.Command;
            // The word the user got wrong says more than "required command was not provided".
            var error = parse.Errors.OrderBy(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal) ? 0 : 1).First();
            await io.Error.WriteLineAsync($"runbook: {error.Message}").ConfigureAwait(false);
            await io.Error.WriteLineAsync($"usage: {Usage(command)}").ConfigureAwait(false);
            await io.Error.WriteLineAsync($"Run '{Path(command)} --help' for more.").ConfigureAwait(false);
            return ExitCodes.Invalid;
        }

        // Every command but serve (which has its own, with /metrics) exports as OTEL_* says; disposing flushes.
        var invoked = parse.CommandResult.Command;
        using var telemetry = invoked.Name == "serve" ? null : RunbookTelemetry.Start(io.Environment);
        // A span per command, so a run started by `runbook run` is rooted at it; not for the long-lived worker and
        // server, whose runs are rooted where they were started and which would otherwise hold one span for days.
        using var span = invoked.Name is "worker" or "serve" ? null : Source.StartActivity(Path(invoked));
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = io.Out, Error = io.Error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TerminationGrace }, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            await io.Error.WriteLineAsync($"runbook: {ex.Message}").ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (RunbookServiceException ex)
        {
            await io.Error.WriteLineAsync($"runbook: {ex.Message}").ConfigureAwait(false);
            return ex.Kind is ServiceErrorKind.Invalid or ServiceErrorKind.NotFound ? ExitCodes.Invalid : ExitCodes.Failed;
        }
        catch (RunbookValidationException ex)
        {
            foreach (var d in ex.Diagnostics)
            {
                await io.Error.WriteLineAsync(d.ToString()).ConfigureAwait(false);
            }

            return ExitCodes.Invalid;
        }
        catch (WorkflowStoreException ex)
        {
            await io.Error.WriteLineAsync($"runbook: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
#pragma warning disable CA1031 // The last line of defence: a message, never a stack trace (RUNBOOK_DEBUG=1 shows it).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await io.Error.WriteLineAsync($"runbook: unexpected error: {ex.Message}").ConfigureAwait(false);
            if (io.Environment("RUNBOOK_DEBUG") == "1")
            {
                await io.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return ExitCodes.Failed;
        }
    }

    private static string Path(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is not null; s = s.Parents.FirstOrDefault())
        {
            names.Add(s.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    private static string Usage(Command command) =>
        Path(command) + string.Concat(command.Arguments.Select(a => a.Arity.MaximumNumberOfValues > 1 ? $" <{a.Name}>..." : $" <{a.Name}>")) + (command.Subcommands.Count > 0 ? " <command>" : string.Empty) + " [options]";
}
