using System.CommandLine;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook retry RUN [--from-step ID]</c>: a new run of the same definition and inputs.</summary>
internal static class RetryCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var id = new Argument<string>("run") { Description = "The run to retry (it must have ended)." };
        var from = new Option<string?>("--from-step") { Description = "Start at this step; earlier steps reuse the old run's results instead of running again." };
        var detach = new Option<bool>("--detach") { Description = "Only start the new run and print its id." };
        var command = new Command("retry", """
            Start a new run with the same pinned runbook definition and inputs as an ended run, linked to it in
            the timeline. With --from-step, the steps before it are not executed again: their recorded results
            are reused.

            Example: runbook retry run_0193c3d2... --from-step restart
            """);
        command.Add(id);
        command.Add(from);
        command.Add(detach);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var fromStep = parse.GetValue(from);
            var started = await service.RetryAsync(parse.GetValue(id)!, fromStep, s.Caller, ct).ConfigureAwait(false);
            var oldRunId = parse.GetValue(id)!;
            if (parse.GetValue(detach))
            {
                s.Line(started.Run.RunId);
                return ExitCodes.Ok;
            }

            if (!s.Json)
            {
                s.Line($"run {started.Run.RunId}: retry of {oldRunId}" + (fromStep is null ? string.Empty : $" from step '{fromStep}'"));
            }

            return await Follower.FollowAsync(s, started.Run.RunId, ct).ConfigureAwait(false);
        });
        return command;
    }
}
