using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

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
            var old = await s.RunAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            if (!old.Status.IsTerminal())
            {
                throw new CliException($"run {old.RunId} is still {old.Status.ToStoredName()}; cancel it first or wait for it to end");
            }

            var runbook = await s.PinnedRunbookAsync(old, ct).ConfigureAwait(false);
            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            var oldInput = RunbookRunInput.FromJson(WorkflowJson.Parse(old.Input));
            JsonObject? prior = null;
            var fromStep = parse.GetValue(from);
            if (fromStep is not null)
            {
                if (runbook.Steps.All(x => x.Id != fromStep))
                {
                    throw new CliException($"runbook '{runbook.Name}' has no step '{fromStep}'; its steps: {string.Join(", ", runbook.Steps.Select(x => x.Id))}", ExitCodes.Invalid);
                }

                var history = await store.LoadHistoryAsync(old.RunId, ct).ConfigureAwait(false);
                prior = [];
                foreach (var step in runbook.Steps.TakeWhile(x => x.Id != fromStep))
                {
                    var executed = history.Steps.LastOrDefault(r => r.Name == step.Id || r.Name.StartsWith(step.Id + "#", StringComparison.Ordinal));
                    var skipped = history.Steps.Any(r => r.Name == step.Id + "/skipped");
                    prior[step.Id] = new JsonObject
                    {
                        ["status"] = skipped ? "skipped" : executed?.Status == StepStatus.Failed ? "failed" : "succeeded",
                        ["result"] = executed?.Status == StepStatus.Completed ? WorkflowJson.Parse(executed.Output) : null,
                    };
                }
            }

            var definition = await store.GetDefinitionAsync(old.DefinitionHash, ct).ConfigureAwait(false);
            var client = new WorkflowClient(store);
            var started = await client.StartAsync(
                definition!,
                new StartRunOptions
                {
                    Actor = s.Actor,
                    Input = new RunbookRunInput(oldInput.Inputs, oldInput.DryRun, old.RunId, fromStep, prior).ToJson(),
                    CreatedEventData = new JsonObject { ["retry_of"] = old.RunId, ["from_step"] = fromStep, ["dry_run"] = oldInput.DryRun },
                },
                ct).ConfigureAwait(false);
            if (parse.GetValue(detach))
            {
                s.Line(started.Run.RunId);
                return ExitCodes.Ok;
            }

            if (!s.Json)
            {
                s.Line($"run {started.Run.RunId}: retry of {old.RunId}" + (fromStep is null ? string.Empty : $" from step '{fromStep}'"));
            }

            return await Follower.FollowAsync(s, started.Run.RunId, ct).ConfigureAwait(false);
        });
        return command;
    }
}
