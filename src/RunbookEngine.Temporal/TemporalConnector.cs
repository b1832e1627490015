using Microsoft.Extensions.Logging;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Client;
using Temporalio.Common.EnvConfig;
using Temporalio.Exceptions;

namespace RunbookEngine.Temporal;

/// <summary>
/// Connects to Temporal and checks the namespace within <see cref="TemporalEngineOptions.ConnectTimeout"/>, so an
/// unreachable address, a missing namespace or a refused credential is one <see cref="TemporalEngineException"/>
/// naming what failed, not a hang or a stack trace.
/// </summary>
public static class TemporalConnector
{
    /// <summary>Connects.</summary>
    /// <param name="options">Where; unset fields from Temporal's environment configuration.</param>
    /// <param name="loggers">The SDK's loggers.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A client whose namespace exists and accepted the credential, and the options as resolved.</returns>
    /// <exception cref="TemporalEngineException">What failed, in one line.</exception>
    public static async Task<(TemporalClient Client, TemporalEngineOptions Options)> ConnectAsync(TemporalEngineOptions options, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connect = Resolve(options);
        if (loggers is not null)
        {
            connect.LoggerFactory = loggers;
        }

        options = options with { Address = connect.TargetHost, Namespace = connect.Namespace };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.ConnectTimeout);
        var seconds = options.ConnectTimeout.TotalSeconds;
        TemporalClient client;
        try
        {
            client = await TemporalClient.ConnectAsync(connect).WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TemporalEngineException($"cannot reach Temporal at {options.Address} within {seconds:0} s: is the server running and the address right (--temporal-address or TEMPORAL_ADDRESS)?");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var reason = ex.Message.Contains("ConnectionRefused", StringComparison.Ordinal) || ex.Message.Contains("Connection refused", StringComparison.Ordinal)
                ? "connection refused: is the server running and the address right (--temporal-address or TEMPORAL_ADDRESS)?"
                : FirstLine(ex.Message);
            throw new TemporalEngineException($"cannot connect to Temporal at {options.Address}: {reason}", ex);
        }

        try
        {
            await client.WorkflowService.DescribeNamespaceAsync(new DescribeNamespaceRequest { Namespace = options.Namespace }, new RpcOptions { CancellationToken = deadline.Token, Timeout = options.ConnectTimeout }).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            throw new TemporalEngineException($"Temporal at {options.Address} has no namespace '{options.Namespace}' (create it with `temporal operator namespace create --namespace {options.Namespace}`, or choose one with --temporal-namespace or TEMPORAL_NAMESPACE)", ex);
        }
        catch (RpcException ex) when (ex.Code is RpcException.StatusCode.Unauthenticated or RpcException.StatusCode.PermissionDenied)
        {
            throw new TemporalEngineException($"Temporal at {options.Address} refused the credential for namespace '{options.Namespace}' ({ex.Code}): check the API key or the client certificate: {FirstLine(ex.Message)}", ex);
        }
        catch (RpcException ex)
        {
            throw new TemporalEngineException($"Temporal at {options.Address} did not answer for namespace '{options.Namespace}' within {seconds:0} s ({ex.Code}): {FirstLine(ex.Message)}", ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TemporalEngineException($"Temporal at {options.Address} did not answer for namespace '{options.Namespace}' within {seconds:0} s");
        }

        return (client, options);
    }

    /// <summary>The connect options: Temporal's environment configuration, then our settings over it.</summary>
    /// <param name="options">Our settings.</param>
    /// <returns>The SDK's options.</returns>
    /// <exception cref="TemporalEngineException">A configuration or certificate file cannot be read.</exception>
    public static TemporalClientConnectOptions Resolve(TemporalEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TemporalClientConnectOptions connect;
        try
        {
            connect = ClientEnvConfig.LoadClientConnectOptions(new ClientEnvConfig.ProfileLoadOptions { OverrideEnvVars = options.Environment });
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new TemporalEngineException($"Temporal's client configuration cannot be read: {FirstLine(ex.Message)}", ex);
        }

        connect.TargetHost = options.Address ?? (string.IsNullOrEmpty(connect.TargetHost) ? "localhost:7233" : connect.TargetHost);
        connect.Namespace = options.Namespace ?? (string.IsNullOrEmpty(connect.Namespace) ? "default" : connect.Namespace);
        if (options.ApiKey is { } key)
        {
            connect.ApiKey = key;
            connect.Tls ??= new TlsOptions();
        }

        if (options.TlsCertPath is not null || options.TlsKeyPath is not null || options.TlsCaPath is not null)
        {
            if ((options.TlsCertPath is null) != (options.TlsKeyPath is null))
            {
                throw new TemporalEngineException("mTLS to Temporal needs both --temporal-tls-cert and --temporal-tls-key");
            }

            var tls = connect.Tls ?? new TlsOptions();
            tls.ClientCert = options.TlsCertPath is null ? tls.ClientCert : Read(options.TlsCertPath, "client certificate");
            tls.ClientPrivateKey = options.TlsKeyPath is null ? tls.ClientPrivateKey : Read(options.TlsKeyPath, "client key");
            tls.ServerRootCACert = options.TlsCaPath is null ? tls.ServerRootCACert : Read(options.TlsCaPath, "server CA certificate");
            connect.Tls = tls;
        }

        return connect;
    }

    private static byte[] Read(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TemporalEngineException($"the Temporal {what} '{path}' cannot be read: {ex.Message}", ex);
        }
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
