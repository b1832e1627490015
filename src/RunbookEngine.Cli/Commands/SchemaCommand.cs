using System.CommandLine;
using RunbookEngine.Drills;
using RunbookEngine.Runbooks;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook schema</c>: the JSON Schema of YAML runbooks, for editors.</summary>
internal static class SchemaCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var command = new Command("schema", """
            Print the JSON Schema of YAML runbooks: every key with what it means and every action's with: keys,
            for completion and checks while you type. The repository has it as schema/runbook.schema.json. Put
            `# yaml-language-server: $schema=PATH-OR-URL` on a runbook's first line, or map it in VS Code's
            settings ("yaml.schemas": { "schema/runbook.schema.json": "runbooks/*.yaml" }, YAML extension by
            Red Hat). `runbook validate` stays the authority (expressions, step references, durations).

            --drill prints the schema of game-day drill files instead (schema/drill.schema.json).

            Example: runbook schema > runbook.schema.json
            """);
        var drill = new Option<bool>("--drill") { Description = "The schema of drill files (*.drill.yaml) instead of runbooks." };
        command.Add(drill);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            await s.Io.Out.WriteAsync(parse.GetValue(drill) ? DrillSchema.Text(s.Actions) : RunbookSchema.Text(s.Actions)).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }
}
