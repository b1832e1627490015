using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Server;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook token create|list|revoke</c>: the server's API tokens (stored as hashes).</summary>
internal static class TokenCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var file = new Option<string?>("--tokens") { Description = "The tokens file (default .runbook/tokens.yaml; env RUNBOOK_TOKENS).", Recursive = true };
        var command = new Command("token", """
            Manage the API tokens `runbook serve` accepts. Only a token's SHA-256 is stored; the token is printed
            once, when created. Roles: viewer (read), operator (read, run, cancel, retry), approver (read, approve,
            reject, reset guards), admin (everything). The server re-reads the file when it changes: revoking takes effect at once.

            Examples:
              runbook token create alice --role operator
              runbook token create bob --role approver --group sre-oncall
              runbook token revoke alice
            """);
        command.Add(file);

        var name = new Argument<string>("name") { Description = "Who holds the token; the timeline records them as user:NAME." };
        var role = new Option<string>("--role") { Description = "viewer, operator, approver or admin.", Required = true }.AcceptOnlyFromAmong("viewer", "operator", "approver", "admin");
        var groups = new Option<string[]>("--group") { Description = "A group for approval rules (approvers: [group:NAME]); repeat for several." };
        var create = new Command("create", "Create a token and print it (once). Example: runbook token create alice --role operator");
        create.Add(name);
        create.Add(role);
        create.Add(groups);
        create.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var tokens = File(parse, s, file);
            string token;
            try
            {
                token = tokens.Create(parse.GetValue(name)!, Enum.Parse<ApiRole>(parse.GetValue(role)!, ignoreCase: true), parse.GetValue(groups) ?? [], TimeProvider.System.GetUtcNow());
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException)
            {
                throw new CliException(ex.Message, ExitCodes.Invalid);
            }

            if (s.Json)
            {
                s.WriteJson(new JsonObject { ["name"] = parse.GetValue(name), ["role"] = parse.GetValue(role), ["token"] = token, ["file"] = tokens.Path });
            }
            else
            {
                s.Line(token);
                s.Error($"token '{parse.GetValue(name)}' ({parse.GetValue(role)}) added to {tokens.Path}; it is shown only now: keep it in a secret store, use it with --token or RUNBOOK_TOKEN");
            }

            return ExitCodes.Ok;
        });

        var list = new Command("list", "List the tokens (names, roles, groups; never the tokens). Example: runbook token list");
        list.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            IReadOnlyList<ApiToken> all;
            try
            {
                all = File(parse, s, file).Load();
            }
            catch (FormatException ex)
            {
                throw new CliException(ex.Message, ExitCodes.Invalid);
            }

            if (s.Json)
            {
                s.WriteJson(new JsonArray([.. all.Select(t => (JsonNode)new JsonObject { ["name"] = t.Name, ["role"] = t.Role.ToString().ToLowerInvariant(), ["groups"] = new JsonArray([.. t.Groups.Select(g => JsonValue.Create(g))]) })]));
            }
            else if (all.Count == 0)
            {
                s.Line("no tokens");
            }
            else
            {
                s.Table(["NAME", "ROLE", "GROUPS"], all.Select(t => (IReadOnlyList<string?>)[t.Name, t.Role.ToString().ToLowerInvariant(), string.Join(",", t.Groups)]));
            }

            return ExitCodes.Ok;
        });

        var revokeName = new Argument<string>("name") { Description = "The token to revoke." };
        var revoke = new Command("revoke", "Revoke a token; the server refuses it from its next request. Example: runbook token revoke alice");
        revoke.Add(revokeName);
        revoke.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var tokens = File(parse, s, file);
            bool removed;
            try
            {
                removed = tokens.Revoke(parse.GetValue(revokeName)!, TimeProvider.System.GetUtcNow());
            }
            catch (FormatException ex)
            {
                throw new CliException(ex.Message, ExitCodes.Invalid);
            }

            if (!removed)
            {
                throw new CliException($"no token named '{parse.GetValue(revokeName)}' in {tokens.Path}; `runbook token list` shows them", ExitCodes.Invalid);
            }

            s.Line($"token '{parse.GetValue(revokeName)}' revoked");
            return ExitCodes.Ok;
        });

        command.Add(create);
        command.Add(list);
        command.Add(revoke);
        return command;
    }

    private static ApiTokenFile File(ParseResult parse, CliSession s, Option<string?> file) =>
        new(s.TokensPath(parse.GetValue(file)));
}
