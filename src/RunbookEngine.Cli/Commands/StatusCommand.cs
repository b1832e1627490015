using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook status RUN</c>: one run and its steps.</summary>
internal static class StatusCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var id = new Argument<string>("run") { Description = "The run id." };
        var command = new Command("status", """
            Show a run: status, inputs, outputs, and each step with its attempts and error.

            Example: runbook status run_0193c3d2...
            """);
        command.Add(id);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var run = await s.RunAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            var history = await store.LoadHistoryAsync(run.RunId, ct).ConfigureAwait(false);
            var waitingFor = WaitingFor(history);
            if (s.Json)
            {
                var json = CliSession.RunJson(run);
                json["steps"] = new JsonArray([.. history.Steps.Select(st => (JsonNode)new JsonObject
                {
                    ["seq"] = st.Sequence,
                    ["name"] = st.Name,
                    ["kind"] = st.Kind.ToString().ToLowerInvariant(),
                    ["status"] = st.Status.ToString().ToLowerInvariant(),
                    ["attempt"] = st.Attempt,
                    ["error_kind"] = st.ErrorKind,
                    ["error"] = st.ErrorMessage,
                    ["output"] = WorkflowJson.Parse(st.Output),
                })]);
                json["waiting_for"] = waitingFor;
                s.WriteJson(json);
                return ExitCodes.Ok;
            }

            s.Line($"run       {run.RunId}");
            s.Line($"runbook   {run.WorkflowName} (definition {run.DefinitionHash[..12]})");
            s.Line($"status    {run.Status.ToStoredName()}{(CliSession.IsDryRun(run) ? " (dry-run)" : string.Empty)}");
            s.Line($"started   {CliSession.Time(run.CreatedAt)} by {run.CreatedBy}");
            if (run.CompletedAt is { } done)
            {
                s.Line($"ended     {CliSession.Time(done)}");
            }

            s.Line($"inputs    {WorkflowJson.Parse(run.Input)?["inputs"]?.ToJsonString()}");
            if (run.Output is not null)
            {
                s.Line($"outputs   {run.Output}");
            }

            if (run.ErrorKind is not null)
            {
                s.Line($"error     {run.ErrorKind}: {run.ErrorMessage}");
            }

            if (waitingFor is { } w)
            {
                s.Line($"waiting   {w}");
            }

            s.Line();
            s.Table(
                ["#", "STEP", "KIND", "STATUS", "ATTEMPT", "ERROR"],
                history.Steps.Select(st => (IReadOnlyList<string?>)[st.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), st.Name, st.Kind.ToString().ToLowerInvariant(), st.Status.ToString().ToLowerInvariant(), st.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture), st.ErrorKind is null ? null : $"{st.ErrorKind}: {st.ErrorMessage}"]));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string? WaitingFor(RunHistory history)
    {
        if (Runbooks.ApprovalRules.Pending(history) is { } approval)
        {
            return $"approval of step '{approval.StepId}'" + (approval.Until is { } until ? $" until {CliSession.Time(until)}" : string.Empty);
        }

        var signal = history.Steps.FirstOrDefault(st => st.Kind == StepKind.Signal && st.Status == StepStatus.Waiting);
        return signal is null ? null : $"signal {WorkflowJson.Parse(signal.Input)?["signal"]}";
    }
}
