using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of PostgreSQL that breaks one connection at a chosen point of the wire
/// protocol: before the server sees the client's next request, or after the server has committed a write
/// (the ReadyForQuery that ends a transaction with an INSERT in it) but before the client hears of it. Each cut is armed once and
/// happens once; every other byte is passed through unchanged.
/// </summary>
internal sealed class BreakingProxy : IAsyncDisposable
{
    private const int None = 0;
    private const int BeforeRequest = 1;
    private const int AfterCommit = 2;

    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly int targetPort;
    private readonly CancellationTokenSource closing = new();
    private readonly List<TcpClient> sockets = [];
    private readonly Task acceptLoop;
    private int armed;
    private TaskCompletionSource cut = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BreakingProxy(int targetPort)
    {
        this.targetPort = targetPort;
        listener.Start();
        acceptLoop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Gets how many connections the proxy has broken.</summary>
    public int Cuts { get; private set; }

    /// <summary>The connection string of the cluster, through the proxy (no TLS, so every server message is framed).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=runbook;Database=postgres;Timeout=5;Command Timeout=30;SSL Mode=Disable;GSS Encryption Mode=Disable";

    /// <summary>Breaks the connection whose client sends the next bytes, without passing them on.</summary>
    public Task CutBeforeNextRequest() => Arm(BeforeRequest);

    /// <summary>Breaks the connection whose server next reports a transaction over after an INSERT, withholding that report.</summary>
    public Task CutAfterNextCommit() => Arm(AfterCommit);

    public async ValueTask DisposeAsync()
    {
        await closing.CancelAsync();
        listener.Stop();
        lock (sockets)
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }

        try
        {
            await acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Closing.
        }

        closing.Dispose();
    }

    private Task Arm(int how)
    {
        cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref armed, how);
        return cut.Task;
    }

    private bool TakeCut(int how) => Interlocked.CompareExchange(ref armed, None, how) == how;

    private void Break(TcpClient client, TcpClient server)
    {
        // Marked before the sockets close: the store sees the break as soon as they do, and a test that checks
        // right after its call failed must find the cut already recorded (under load the proxy thread can be
        // descheduled between the close and a later mark).
        Cuts++;
        cut.TrySetResult();
        client.Client.Close(0);
        server.Client.Close(0);
    }

    private async Task AcceptAsync()
    {
        while (!closing.IsCancellationRequested)
        {
            var client = await listener.AcceptTcpClientAsync(closing.Token);
            var server = new TcpClient();
            await server.ConnectAsync(IPAddress.Loopback, targetPort, closing.Token);
            lock (sockets)
            {
                sockets.Add(client);
                sockets.Add(server);
            }

            _ = PumpRequestsAsync(client, server);
            _ = PumpRepliesAsync(client, server);
        }
    }

    private async Task PumpRequestsAsync(TcpClient client, TcpClient server)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            var from = client.GetStream();
            var to = server.GetStream();
            while (true)
            {
                var n = await from.ReadAsync(buffer, closing.Token);
                if (n == 0 || (Volatile.Read(ref armed) == BeforeRequest && TakeCut(BeforeRequest)))
                {
                    if (n > 0)
                    {
                        Break(client, server);
                    }

                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, n), closing.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The other side or the test closed the connection.
        }
    }

    /// <summary>Passes the server's messages on one by one, watching for the ReadyForQuery that ends a transaction with an INSERT.</summary>
    private async Task PumpRepliesAsync(TcpClient client, TcpClient server)
    {
        var pending = new List<byte>();
        var buffer = new byte[64 * 1024];
        var insertSeen = false;
        try
        {
            var from = server.GetStream();
            var to = client.GetStream();
            while (true)
            {
                var n = await from.ReadAsync(buffer, closing.Token);
                if (n == 0)
                {
                    return;
                }

                pending.AddRange(buffer.AsSpan(0, n));
                var start = 0;
                var forward = 0;
                while (pending.Count - start >= 5)
                {
                    var type = (char)pending[start];
                    var length = BinaryPrimitives.ReadInt32BigEndian([pending[start + 1], pending[start + 2], pending[start + 3], pending[start + 4]]);
                    if (pending.Count - start < 1 + length)
                    {
                        break;
                    }

                    if (type == 'C' && Encoding.ASCII.GetString([.. pending.GetRange(start + 5, Math.Min(6, length - 4))]).StartsWith("INSERT", StringComparison.Ordinal))
                    {
                        insertSeen = true;
                    }
                    else if (type == 'Z' && pending[start + 5] != (byte)'T')
                    {
                        // Transaction status I: the transaction (implicit, or ended by COMMIT) is over; E: it failed.
                        if (pending[start + 5] == (byte)'I' && insertSeen && Volatile.Read(ref armed) == AfterCommit && TakeCut(AfterCommit))
                        {
                            // Everything before the report goes through; the report that the commit happened does not.
                            await to.WriteAsync(pending.GetRange(0, start).ToArray(), closing.Token);
                            Break(client, server);
                            return;
                        }

                        insertSeen = false;
                    }

                    start += 1 + length;
                    forward = start;
                }

                if (forward > 0)
                {
                    await to.WriteAsync(pending.GetRange(0, forward).ToArray(), closing.Token);
                    pending.RemoveRange(0, forward);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The other side or the test closed the connection.
        }
    }
}
