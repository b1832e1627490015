using System.CommandLine;
using System.Text.Json;

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
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var detail = await service.GetRunDetailAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            var run = detail.Run;
            var waitingFor = detail.WaitingFor;
            if (s.Json)
            {
                var json = CliSession.ToObject(run);
                json["steps"] = JsonSerializer.SerializeToNode(detail.Steps);
                json["waiting_for"] = waitingFor;
                s.WriteJson(json);
                return ExitCodes.Ok;
            }

            s.Line($"run       {run.RunId}");
            s.Line($"runbook   {run.Runbook} (definition {run.DefinitionHash[..12]})");
            s.Line($"status    {run.Status}{(run.DryRun ? " (dry-run)" : string.Empty)}");
            s.Line($"started   {CliSession.Time(run.CreatedAt)} by {run.StartedBy}");
            if (run.CompletedAt is { } done)
            {
                s.Line($"ended     {CliSession.Time(done)}");
            }

            s.Line($"inputs    {run.Inputs?.ToJsonString()}");
            if (run.Output is not null)
            {
                s.Line($"outputs   {run.Output.ToJsonString()}");
            }

            if (run.ErrorKind is not null)
            {
                s.Line($"error     {run.ErrorKind}: {run.Error}");
            }

            if (waitingFor is { } w)
            {
                s.Line($"waiting   {w}");
            }

            s.Line();
            s.Table(
                ["#", "STEP", "KIND", "STATUS", "ATTEMPT", "ERROR"],
                detail.Steps.Select(st => (IReadOnlyList<string?>)[st.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), st.Name, st.Kind, st.Status, st.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture), st.ErrorKind is null ? null : $"{st.ErrorKind}: {st.Error}"]));
            return ExitCodes.Ok;
        });
        return command;
    }
}
