using System.CommandLine;
using Microsoft.Extensions.Hosting;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Server;
using RunbookEngine.Temporal;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook serve</c>: the API and webhook server with an embedded worker.</summary>
internal static class ServeCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var urls = new Option<string[]>("--urls") { Description = "Where to listen (default http://127.0.0.1:8080, loopback only); repeat for several. Use http://0.0.0.0:8080 to accept other machines." };
        var tokens = new Option<string?>("--tokens") { Description = "The API tokens file (default .runbook/tokens.yaml; env RUNBOOK_TOKENS). `runbook token create` writes it." };
        var noWorker = new Option<bool>("--no-worker") { Description = "Do not execute runs here; separate `runbook worker` processes on the same store do." };
        var concurrency = new Option<int>("--concurrency") { Description = "How many runs and actions the embedded worker executes at once (default 16).", DefaultValueFactory = _ => 16 };
        var queues = new Option<string[]>("--queue", "-q") { Description = "A task queue the embedded worker serves; repeat for several (default: default)." };
        var pagerDuty = new Option<string[]>("--pagerduty-secret") { Description = "The signing secret of a PagerDuty V3 webhook subscription, as a reference (secret://env/NAME or secret://file/PATH); repeat during a rotation. /hooks/pagerduty then accepts only deliveries with a matching X-PagerDuty-Signature." };
        var config = new Option<string?>("--config") { Description = "The server configuration (env RUNBOOK_SERVER_CONFIG): webhook sources with their own credentials (bearer, basic, PagerDuty signature, query token) and generic JSON webhooks with their mapping. docs/api.md shows the format." };
        var metricsAuth = new Option<bool>("--metrics-auth") { Description = "Require an API token (any role) for GET /metrics, the Prometheus scrape endpoint; open by default (it shows counts, never inputs)." };
        var noConsole = new Option<bool>("--no-console") { Description = "Do not serve the web console at / (nor its sign-in at /api/session): the API then takes tokens in the Authorization header only." };
        var retention = new Option<string?>("--retention") { Description = "Keep finished runs and journal entries this long (e.g. 30d; env RUNBOOK_RETENTION), pruning older ones every hour as `runbook prune` does. Default: kept forever." };
        var command = new Command("serve", """
            Run the server: the REST API under /api (what `--server` commands use), alert webhooks, /healthz and
            /readyz, Prometheus metrics at /metrics, and a worker that executes runs. Every API call needs a token
            (`runbook token create`). Traces and metrics also go by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
            Listens on loopback only unless --urls says otherwise. Ctrl-C (SIGTERM) drains: no new requests,
            in-flight steps finish (up to 30 s), then the rest is handed back to other workers.

            Examples:
              runbook token create alice --role operator
              runbook serve
              runbook serve --config server.yaml
              runbook serve --store "Host=db;Database=runbook;Username=runbook" --urls http://0.0.0.0:8080 --no-worker
            """);
        command.Add(urls);
        command.Add(tokens);
        command.Add(noWorker);
        command.Add(concurrency);
        command.Add(queues);
        command.Add(pagerDuty);
        command.Add(config);
        command.Add(metricsAuth);
        command.Add(noConsole);
        command.Add(retention);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            if (s.IsRemote)
            {
                throw new CliException("a server works on the store itself: give it --store, not --server", ExitCodes.Invalid);
            }

            s.ReconnectWindow = TimeSpan.FromMinutes(2);
            var listen = parse.GetValue(urls) is { Length: > 0 } u ? u : ["http://127.0.0.1:8080"];
            foreach (var url in listen)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    throw new CliException($"--urls '{url}' is not an http:// URL like http://127.0.0.1:8080", ExitCodes.Invalid);
                }
            }

            var n = parse.GetValue(concurrency);
            if (n is < 1 or > 1024)
            {
                throw new CliException("--concurrency must be from 1 to 1024", ExitCodes.Invalid);
            }

            TimeSpan? keep = null;
            if ((parse.GetValue(retention) ?? s.Io.Environment("RUNBOOK_RETENTION")) is { Length: > 0 } given)
            {
                if (!Durations.TryParse(given, out var k) || k < PruneRequest.Minimum)
                {
                    throw new CliException($"--retention '{given}' is not a duration of at least {Durations.Format(PruneRequest.Minimum)} (e.g. 30d)", ExitCodes.Invalid);
                }

                keep = k;
            }

            var tokensFile = s.TokensPath(parse.GetValue(tokens));
            int tokenCount;
            try
            {
                tokenCount = new ApiTokenFile(tokensFile).Load().Count;
            }
            catch (FormatException ex)
            {
                throw new CliException(ex.Message, ExitCodes.Invalid);
            }

            var signing = new List<string>();
            foreach (var reference in parse.GetValue(pagerDuty) ?? [])
            {
                signing.Add(SecretOptions.Resolve("--pagerduty-secret", reference));
            }

            IReadOnlyDictionary<string, WebhookSource> sources = new Dictionary<string, WebhookSource>();
            if ((parse.GetValue(config) ?? s.Io.Environment("RUNBOOK_SERVER_CONFIG")) is { Length: > 0 } configFile)
            {
                try
                {
                    sources = WebhookSources.Load(configFile);
                }
                catch (FormatException ex)
                {
                    throw new CliException(ex.Message, ExitCodes.Invalid);
                }

                if (signing.Count > 0 && sources.ContainsKey("pagerduty"))
                {
                    throw new CliException($"--pagerduty-secret and the pagerduty source of {configFile} both set PagerDuty's credentials; keep one", ExitCodes.Invalid);
                }
            }

            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            var options = new RunbookServerOptions
            {
                Urls = listen,
                RunbookDirectories = [s.RunbooksDirectory],
                TokensFile = tokensFile,
                EmbeddedWorker = !parse.GetValue(noWorker),
                Concurrency = n,
                Queues = parse.GetValue(queues) is { Length: > 0 } q ? q : ["default"],
                PagerDutySecrets = signing,
                Sources = sources,
                MetricsRequireToken = parse.GetValue(metricsAuth),
                Retention = keep,
                Console = !parse.GetValue(noConsole),
                Environment = s.Io.Environment,
            };
            ServerEngine? engine = null;
            if (s.IsTemporal)
            {
                var (client, temporal) = await s.TemporalAsync(ct).ConfigureAwait(false);
                engine = new ServerEngine(
                    s.RunsName,
                    new TemporalRunClient(client, temporal, guards: store),
                    stop => TemporalRunbookWorker.RunAsync(client, s.Actions, new TemporalRunbookWorker.WorkerSettings { WorkflowTaskQueue = temporal.TaskQueue, Queues = [.. options.Queues.Where(x => x != "default")], Concurrency = n }, s.Loggers, stop));
            }

            var app = RunbookServer.Build(options, store, s.StoreName, s.Actions, s.Loggers, engine: engine);
            await using (app.ConfigureAwait(false))
            {
                try
                {
                    await app.StartAsync(ct).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    throw new CliException($"cannot listen on {string.Join(", ", listen)}: {ex.Message}");
                }

                var addresses = app.Urls.Count > 0 ? string.Join(", ", app.Urls) : string.Join(", ", listen);
                s.Line($"serving on {addresses} with {s.RunsName}; runbooks from {s.RunbooksDirectory}; {(options.EmbeddedWorker ? "embedded worker on " + string.Join(", ", options.Queues) : "no embedded worker")}; {(options.Console ? "web console at /" : "no web console")}; Ctrl-C to stop");
                if (keep is { } kept)
                {
                    s.Line($"retention: finished runs and journal entries older than {Durations.Format(kept)} are pruned every hour");
                }

                if (sources.Count > 0)
                {
                    s.Line("webhook sources: " + string.Join(", ", sources.Values.Select(x => $"/hooks/{x.Name} ({(x.Mapping is null ? string.Empty : "generic, ")}{x.Auth?.Kind ?? "API token"})")));
                }
                if (tokenCount == 0)
                {
                    s.Error($"runbook: no API tokens in {tokensFile}: every API call will be refused until you run `runbook token create NAME --role admin`");
                }

                await app.WaitForShutdownAsync(ct).ConfigureAwait(false);
                s.Line("server stopped");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
