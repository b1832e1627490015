using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RunbookEngine.Testing;

/// <summary>A real HTTP server on 127.0.0.1 for tests; it records every request it receives.</summary>
public sealed class LocalHttpServer : IAsyncDisposable
{
    private readonly HttpListener listener;
    private readonly Func<HttpListenerRequest, string, (int Status, string Body, string ContentType)> handler;
    private readonly Task loop;

    public LocalHttpServer(Func<HttpListenerRequest, string, (int Status, string Body, string ContentType)> handler)
    {
        this.handler = handler;
        (listener, Port) = Bind();
        loop = Task.Run(ServeAsync);
    }

    /// <summary>
    /// Listens on a free port of 127.0.0.1. HttpListener cannot take port 0, so a port is found free first; another
    /// test may take it before the listener binds it (tests run in parallel), and then another port is tried.
    /// </summary>
    private static (HttpListener Listener, int Port) Bind()
    {
        for (var attempt = 1; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var candidate = new HttpListener();
            candidate.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                candidate.Start();
                return (candidate, port);
            }
            catch (HttpListenerException) when (attempt < 20)
            {
                // Never started: nothing of it is bound, so abandoning it is enough.
                ((IDisposable)candidate).Dispose();
            }
        }
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public ConcurrentQueue<(string Method, string Path, string Body, Dictionary<string, string> Headers)> Requests { get; } = new();

    public async ValueTask DisposeAsync()
    {
        if (!listener.IsListening)
        {
            return;
        }

        // Close alone: after Stop, the managed HttpListener's Close looks its port up again and binds it anew to remove
        // the prefix, which fails with "Address already in use" when another process has taken the port meanwhile.
        listener.Close();
        try
        {
            await loop;
        }
        catch (HttpListenerException)
        {
            // Stopping the listener ends the accept loop.
        }
        catch (ObjectDisposedException)
        {
            // Likewise.
        }
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = ctx.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => ctx.Request.Headers[k] ?? string.Empty, StringComparer.OrdinalIgnoreCase);
            Requests.Enqueue((ctx.Request.HttpMethod, ctx.Request.Url!.PathAndQuery, body, headers));
            var (status, text, type) = handler(ctx.Request, body);
            var bytes = Encoding.UTF8.GetBytes(text);
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = type;
            ctx.Response.ContentLength64 = bytes.Length;
            await ctx.Response.OutputStream.WriteAsync(bytes);
            ctx.Response.Close();
        }
    }
}
