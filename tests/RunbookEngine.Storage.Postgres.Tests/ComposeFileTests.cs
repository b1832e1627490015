using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// compose.yml, run as written without Docker (this machine has no Docker daemon and reaches no image registry):
/// the image is built from the Dockerfile by <see cref="DockerImage"/>, and each service's command and environment
/// are taken from the file and given to the image's entrypoint, with only what Docker itself provides put in its
/// place (the postgres host becomes the test cluster, container paths become directories of the test, the
/// published port becomes a free loopback port).
/// </summary>
public sealed partial class ComposeFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("rb-compose-").FullName;
    private readonly ITestOutputHelper output;

    public ComposeFileTests(ITestOutputHelper output) => this.output = output;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task The_services_of_compose_yml_run_as_written_against_postgresql_and_stop_cleanly_on_sigterm()
    {
        var root = RepositoryRoot();
        var compose = await File.ReadAllTextAsync(Path.Combine(root, "compose.yml"));
        var services = Services(compose);
        Assert.Equal(["cli", "postgres", "server", "worker"], services.Keys.Order(StringComparer.Ordinal));

        // The image, built from the Dockerfile as written (`build: .`): the CLI published from a clean copy of the
        // build context, started by the entrypoint on the base image's frameworks alone, the runbooks at RUNBOOK_PATH.
        var env = Environment(services["worker"]);
        var image = await DockerImage.BuildAsync(root, Path.Combine(dir, "image"), output.WriteLine);
        using var cli = new CliProcesses(output, dir, image);
        var (helped, help) = await cli.RunAsync(new Dictionary<string, string>());
        Assert.True(helped == 0, $"the image's default command (`{string.Join(' ', image.Entrypoint.Concat(image.Command))}`) failed on {image.BaseImage}: {help}");
        Assert.Contains("runbook: write, check, dry-run, run, approve and inspect runbooks.", help, StringComparison.Ordinal);
        Assert.Equal(
            Directory.GetFiles(Path.Combine(root, "runbooks")).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Directory.GetFiles(image.Map(env["RUNBOOK_PATH"])).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var name in new[] { "server", "worker", "cli" })
        {
            Assert.Equal(".", Scalar(services[name], "build"));
            Assert.Equal(env, Environment(services[name]));
            Assert.Equal("service_healthy", Scalar(Map(Map(services[name], "depends_on"), "postgres"), "condition"));
        }

        // The store: the postgres service's database, user and password; the tokens file on the volume the server and the cli share.
        var store = new NpgsqlConnectionStringBuilder(env["RUNBOOK_STORE"]);
        var postgres = Environment(services["postgres"]);
        Assert.Equal(("postgres", 5432), (store.Host, store.Port));
        Assert.Equal((postgres["POSTGRES_DB"], postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"]), (store.Database, store.Username, store.Password));
        var tokensVolume = Sequence(services["worker"], "volumes").Single();
        Assert.Equal(Path.GetDirectoryName(env["RUNBOOK_TOKENS"]), tokensVolume[(tokensVolume.IndexOf(':', StringComparison.Ordinal) + 1)..]);

        await using var pg = await PgTest.CreateAsync();
        var local = LocalEnvironment(env, pg, image);

        // The documented first step: `docker compose run --rm cli token create ada --role admin`.
        Assert.Contains("docker compose run --rm cli token create ada --role admin", compose, StringComparison.Ordinal);
        var (created, token) = await cli.RunAsync(local, "token", "create", "ada", "--role", "admin");
        Assert.True(created == 0, token);

        // The server: its command as written, its published port on the host's loopback only.
        var serverCommand = Sequence(services["server"], "command");
        var urls = serverCommand[serverCommand.IndexOf("--urls") + 1];
        Assert.Equal("http://0.0.0.0:8080", urls);
        Assert.Equal("127.0.0.1:8080:8080", Sequence(services["server"], "ports").Single());
        serverCommand[serverCommand.IndexOf("--urls") + 1] = "http://127.0.0.1:0"; // what Docker's port mapping stands for here
        var (server, banner) = await cli.StartAsync("server", local, [.. serverCommand], line => line.StartsWith("serving on ", StringComparison.Ordinal));
        var url = LoopbackUrl().Match(banner).Value;
        Assert.True(url.Length > 0, $"no loopback address in the server's banner: {banner}");
        Assert.Contains("no embedded worker", banner, StringComparison.Ordinal);

        // `docker compose up -d --scale worker=3`: three processes of the worker service's command.
        Assert.Contains("docker compose up -d --scale worker=3", compose, StringComparison.Ordinal);
        var workers = new List<Process>();
        for (var i = 0; i < 3; i++)
        {
            var (worker, first) = await cli.StartAsync($"worker-{i}", local, [.. Sequence(services["worker"], "command")], line => line.StartsWith("worker ", StringComparison.Ordinal));
            Assert.StartsWith("worker ", first, StringComparison.Ordinal);
            workers.Add(worker);
        }

        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Trim());
        var runIds = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            using var response = await http.PostAsJsonAsync("/api/runs", new { runbook = "compose-smoke", inputs = new { n = i } });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/runs answered {(int)response.StatusCode}: {body}");
            runIds.Add(JsonNode.Parse(body)!["run"]!["run_id"]!.GetValue<string>());
        }

        await pg.WaitForEndedAsync(await pg.OpenAsync(), runIds, TimeSpan.FromSeconds(120));
        Assert.Equal(6L, await pg.ScalarAsync<long>("SELECT count(*) FROM runs WHERE run_id = ANY(@ids) AND status = 'completed'", new NpgsqlParameter("ids", runIds.ToArray())));

        // The cli service's own command (`runs`) on the same store lists them.
        var (listed, runs) = await cli.RunAsync(local, [.. Sequence(services["cli"], "command")]);
        Assert.True(listed == 0, runs);
        Assert.All(runIds, id => Assert.Contains(id, runs, StringComparison.Ordinal));

        // `docker compose stop`: SIGTERM, then SIGKILL after stop_grace_period; every process drains and exits 0 well before.
        var grace = TimeSpan.FromSeconds(int.Parse(Scalar(services["worker"], "stop_grace_period").TrimEnd('s'), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Scalar(services["worker"], "stop_grace_period"), Scalar(services["server"], "stop_grace_period"));
        foreach (var p in workers.Append(server))
        {
            await CliProcesses.SignalAsync(p, "TERM");
        }

        foreach (var p in workers.Append(server))
        {
            await p.WaitForExitAsync().WaitAsync(grace);
            Assert.Equal(0, p.ExitCode);
        }
    }

    /// <summary>The environment the services get in compose, made to run here: the test cluster for the postgres host, the image's directory for its paths, a directory of the test for the volume.</summary>
    private Dictionary<string, string> LocalEnvironment(Dictionary<string, string> env, PgTest pg, DockerImage image)
    {
        var store = new NpgsqlConnectionStringBuilder(env["RUNBOOK_STORE"]) { Host = "127.0.0.1", Port = pg.Cluster.Port, Database = "postgres" };
        var runbooks = image.Map(env["RUNBOOK_PATH"]);
        File.WriteAllText(Path.Combine(runbooks, "compose-smoke.yaml"), """
            name: compose-smoke
            description: Two steps that only echo, to run the compose services end to end.
            inputs:
              n: { type: number, default: 0 }
            steps:
              - id: hello
                action: shell
                with: { command: [echo, "hello ${{ inputs.n }}"] }
              - id: again
                action: shell
                with: { command: [echo, again] }
            """);
        var local = new Dictionary<string, string>(env)
        {
            ["RUNBOOK_STORE"] = store.ConnectionString,
            ["RUNBOOK_PG_SCHEMA"] = pg.Schema,
            ["RUNBOOK_PATH"] = runbooks,
            ["RUNBOOK_TOKENS"] = Path.Combine(Directory.CreateDirectory(Path.Combine(dir, "tokens")).FullName, Path.GetFileName(env["RUNBOOK_TOKENS"])),
        };
        return local;
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "compose.yml")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"no compose.yml above {AppContext.BaseDirectory}");
    }

    /// <summary>The services, each with the keys of the anchors it merges (<c>&lt;&lt;: *runbook</c>) where it does not set them itself.</summary>
    private static Dictionary<string, YamlMappingNode> Services(string compose)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(compose));
        var services = new Dictionary<string, YamlMappingNode>(StringComparer.Ordinal);
        foreach (var (key, value) in Map((YamlMappingNode)stream.Documents[0].RootNode, "services").Children)
        {
            var service = (YamlMappingNode)value;
            var merged = new YamlMappingNode();
            foreach (var (k, v) in service.Children.Where(c => ((YamlScalarNode)c.Key).Value != "<<"))
            {
                merged.Add(k, v);
            }

            if (service.Children.TryGetValue(new YamlScalarNode("<<"), out var anchor))
            {
                foreach (var (k, v) in ((YamlMappingNode)anchor).Children.Where(c => !merged.Children.ContainsKey(c.Key)))
                {
                    merged.Add(k, v);
                }
            }

            services[((YamlScalarNode)key).Value!] = merged;
        }

        return services;
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node[key];

    private static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value!;

    private static List<string> Sequence(YamlMappingNode node, string key) => ((YamlSequenceNode)node[key]).Children.Select(c => ((YamlScalarNode)c).Value!).ToList();

    /// <summary>A service's environment, with <c>${NAME:-default}</c> read as compose reads it when NAME is not set.</summary>
    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        Map(service, "environment").Children.ToDictionary(
            c => ((YamlScalarNode)c.Key).Value!,
            c => Substitution().Replace(((YamlScalarNode)c.Value).Value!, m => m.Groups["default"].Value),
            StringComparer.Ordinal);

    [GeneratedRegex(@"\$\{[A-Z_]+:-(?<default>[^}]*)\}")]
    private static partial Regex Substitution();

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
    private static partial Regex LoopbackUrl();
}
