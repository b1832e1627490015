using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server;

/// <summary>
/// <c>runbook serve</c>: the REST API under <c>/api</c>, alert webhooks under <c>/hooks</c>, health and readiness,
/// and an embedded worker, all on one store.
/// </summary>
public static class RunbookServer
{
    /// <summary>Builds the server (not started).</summary>
    /// <param name="options">The options.</param>
    /// <param name="store">The store, owned by the caller.</param>
    /// <param name="storeName">The store as shown to people.</param>
    /// <param name="actions">The actions.</param>
    /// <param name="loggers">Loggers; the host's own go to them too.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="engine">
    /// Another engine's run client and embedded worker (Temporal's); null runs on the built-in kernel over
    /// <paramref name="store"/>. Guards and the alert journal stay in <paramref name="store"/> either way.
    /// </param>
    /// <returns>The web application.</returns>
    public static WebApplication Build(RunbookServerOptions options, IWorkflowStore store, string storeName, ActionCatalog actions, ILoggerFactory loggers, TimeProvider? timeProvider = null, ServerEngine? engine = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(loggers);
        var time = timeProvider ?? TimeProvider.System;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Logging.ClearProviders();

        // The host's request lines carry the full URL, and a webhook URL may carry a token (?token=): not logged.
        builder.Services.AddSingleton<ILoggerFactory>(new WithoutRequestUrls(loggers));
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(5));
        builder.Services.Configure<Microsoft.Extensions.Hosting.ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        var service = engine is null
            ? new LocalRunbookService(store, actions, options.RunbookDirectories, storeName, time) { AllowFiles = false }
            : new LocalRunbookService(engine.Client, store, store, store, actions, options.RunbookDirectories, engine.Name) { AllowFiles = false };
        var context = new ServerContext(options, store, service, new ApiTokenFile(options.TokensFile), actions, loggers, time)
        {
            Engine = engine,
            Sessions = new WebConsole.ConsoleSessions(store, time, options.ConsoleSessionLifetime, options.ConsoleSessionIdle),
        };
        builder.Services.AddSingleton(context);
        if (options.EmbeddedWorker)
        {
            builder.Services.AddHostedService<EmbeddedWorker>();
        }

        builder.Services.AddHostedService<BacklogSampler>();
        if (options.Retention is not null)
        {
            builder.Services.AddHostedService<RetentionService>();
        }

        RunbookTelemetry.AddTo(builder, options.Environment);
        var app = builder.Build();
        app.Use(ErrorsAsync);
        if (options.MetricsRequireToken)
        {
            app.Use((http, next) =>
            {
                if (http.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal))
                {
                    ApiEndpoints.AuthorizeToken(http, context, ApiRole.Viewer);
                }

                return next();
            });
        }

        app.MapPrometheusScrapingEndpoint();
        ApiEndpoints.Map(app, context);
        WebConsole.ConsoleEndpoints.Map(app, context);
        WebhookEndpoints.Map(app, context);
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            foreach (var d in context.Disposables)
            {
                d.Dispose();
            }
        });
        return app;
    }

    /// <summary>Every failure as <c>{"error": {"kind", "message"}}</c> with the matching status; never a stack trace.</summary>
    private static async Task ErrorsAsync(HttpContext http, Func<Task> next)
    {
        try
        {
            await next().ConfigureAwait(false);
        }
        catch (Exception ex) when (!http.Response.HasStarted && ex is not OperationCanceledException)
        {
            (int Status, string Kind, string Message, List<ProblemView>? Problems) error = ex switch
            {
                RunbookServiceException s => (ServerErrors.Status(s.Kind), s.Kind.ToString().ToLowerInvariant(), s.Message, null),
                RunbookEngine.Runbooks.Model.RunbookValidationException v => (400, "invalid", v.Message, v.Diagnostics.Select(LocalRunbookService.Problem).ToList()),
                BadHttpRequestException b => (b.StatusCode, b.StatusCode == 413 ? "too_large" : "invalid", b.StatusCode == 413 ? $"the request body is larger than {http.RequestServices.GetRequiredService<ServerContext>().Options.MaxRequestBodyBytes} bytes" : b.Message, null),
                WorkflowStoreException w => (503, "unavailable", w.Message, null),
                _ => (500, "internal", "internal error; the server log has the details", null),
            };
            if (error.Status == 500)
            {
                http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("runbook.server").LogError(ex, "unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            }

            await ServerErrors.WriteAsync(http, error.Status, error.Kind, error.Message, error.Problems).ConfigureAwait(false);
        }
    }
}

/// <summary>What every endpoint needs.</summary>
internal sealed record ServerContext(
    RunbookServerOptions Options,
    IWorkflowStore Store,
    LocalRunbookService Service,
    ApiTokenFile Tokens,
    ActionCatalog Actions,
    ILoggerFactory Loggers,
    TimeProvider Time)
{
    /// <summary>Gets what the server disposes when it stops.</summary>
    public List<IDisposable> Disposables { get; } = [];

    /// <summary>Gets or sets the admission limit of the webhooks (its statistics are in <c>/readyz</c>).</summary>
    public System.Threading.RateLimiting.ConcurrencyLimiter? WebhookLimiter { get; set; }

    /// <summary>Gets or sets the embedded worker, when there is one (to wake it when work arrives).</summary>
    public WorkflowWorker? Worker { get; set; }

    /// <summary>Gets the engine other than the built-in kernel, if one runs the runs.</summary>
    public ServerEngine? Engine { get; init; }

    /// <summary>Gets the web console's sign-ins.</summary>
    public required WebConsole.ConsoleSessions Sessions { get; init; }
}

/// <summary>An engine other than the built-in kernel for <c>runbook serve</c> (Temporal's).</summary>
/// <param name="Name">How it is shown: where its runs are.</param>
/// <param name="Client">Its run client.</param>
/// <param name="Worker">Runs its worker in this process until cancelled (the embedded worker).</param>
public sealed record ServerEngine(string Name, IRunClient Client, Func<CancellationToken, Task> Worker);

/// <summary>Error bodies and statuses.</summary>
internal static class ServerErrors
{
    public static int Status(ServiceErrorKind kind) => kind switch
    {
        ServiceErrorKind.Invalid => 400,
        ServiceErrorKind.NotFound => 404,
        ServiceErrorKind.Conflict => 409,
        ServiceErrorKind.Unauthorized => 401,
        ServiceErrorKind.Forbidden => 403,
        _ => 503,
    };

    public static Task WriteAsync(HttpContext http, int status, string kind, string message, IReadOnlyList<ProblemView>? problems = null)
    {
        http.Response.StatusCode = status;
        if (status == 401)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        var error = new Dictionary<string, object?> { ["kind"] = kind, ["message"] = message };
        if (problems is not null)
        {
            error["problems"] = problems;
        }

        return http.Response.WriteAsJsonAsync(new Dictionary<string, object?> { ["error"] = error }, ApiEndpoints.Json);
    }
}

/// <summary>The server's own worker: executes runs on the server's queues; drains on shutdown.</summary>
internal sealed class EmbeddedWorker(ServerContext context) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (context.Engine is { } engine)
        {
            await engine.Worker(stoppingToken).ConfigureAwait(false);
            return;
        }

        var worker = RunbookWorkers.Create(
            context.Store,
            context.Actions,
            new WorkerOptions
            {
                Queues = context.Options.Queues,
                MaxConcurrentRuns = context.Options.Concurrency,
                MaxConcurrentActivities = context.Options.Concurrency,
                PollInterval = TimeSpan.FromMilliseconds(250),
                ShutdownTimeout = context.Options.ShutdownTimeout,
                AfterCommit = context.Options.Progress is { } progress ? (_, _) => progress() : null,
            },
            context.Loggers);
        await using (worker.ConfigureAwait(false))
        {
            context.Worker = worker;
            context.Service.WorkAvailable = worker.Notify;
            await worker.RunAsync(stoppingToken).ConfigureAwait(false);
        }
    }
}

/// <summary>A logger factory that drops the ASP.NET Core hosting diagnostics (request start and finish with the URL).</summary>
internal sealed class WithoutRequestUrls(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith("Microsoft.AspNetCore.Hosting.Diagnostics", StringComparison.Ordinal) || categoryName.StartsWith("Microsoft.AspNetCore.Routing", StringComparison.Ordinal)
            ? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance
            : inner.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
        // The inner factory belongs to the caller.
    }
}
