using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Testing;

/// <summary>One request a <see cref="FakeApiServer"/> received.</summary>
public sealed record FakeRequest(string Method, string Path, string Query, string Body, IReadOnlyDictionary<string, string> Headers, string? ClientCertificate)
{
    public string PathAndQuery => Path + Query;

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>What a <see cref="FakeApiServer"/> answers.</summary>
public sealed record FakeResponse(int Status, string Body = "", string ContentType = "application/json", IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>
/// A real HTTP or HTTPS server on 127.0.0.1 (Kestrel) that hands every request to a handler and records it:
/// the base of the fake Kubernetes API server and the fake Azure Resource Manager.
/// </summary>
public sealed class FakeApiServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private FakeApiServer(WebApplication app) => this.app = app;

    public string Url { get; private set; } = string.Empty;

    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    /// <summary>Starts a server; with <paramref name="certificate"/> it speaks only TLS and asks for (does not require) a client certificate.</summary>
    public static async Task<FakeApiServer> StartAsync(Func<FakeRequest, FakeResponse> handler, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true, // the handler decides what a client certificate is worth
                });
            }
        }));
        var app = builder.Build();
        var server = new FakeApiServer(app);
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var cert = await context.Connection.GetClientCertificateAsync(context.RequestAborted);
            var request = new FakeRequest(context.Request.Method, context.Request.Path.Value ?? "/", context.Request.QueryString.Value ?? string.Empty, body, headers, cert?.Subject);
            server.Requests.Enqueue(request);
            FakeResponse response;
            try
            {
                response = handler(request);
            }
#pragma warning disable CA1031 // a failing fake must answer, not hang the client
            catch (Exception ex)
#pragma warning restore CA1031
            {
                response = new FakeResponse(500, ex.ToString(), "text/plain");
            }

            context.Response.StatusCode = response.Status;
            context.Response.ContentType = response.ContentType;
            foreach (var (k, v) in response.Headers ?? new Dictionary<string, string>())
            {
                context.Response.Headers[k] = v;
            }

            await context.Response.WriteAsync(response.Body, context.RequestAborted);
        });
        await app.StartAsync();
        var address = app.Urls.First();
        server.Url = address.TrimEnd('/');
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
