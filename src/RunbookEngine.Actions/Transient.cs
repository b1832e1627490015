using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Polly;
using Polly.Retry;

namespace RunbookEngine.Actions;

/// <summary>
/// Retries inside one attempt (Polly), for failures a moment later may not repeat: the kernel's durable retries
/// (a step's <c>retry:</c>) stay the way to survive longer outages, and what counts is recorded per attempt.
/// A request is tried at most 3 times, 0.5 s then 1 s apart (or what the server's Retry-After asks, up to 5 s).
/// Only what is safe to send again, and may pass, is retried: a connection that could not be made (nothing was
/// sent), and for reads also a connection dropped before the answer and 429, 502, 503 and 504. A refused TLS
/// certificate, a protocol error or any other status is answered at once.
/// </summary>
internal static class Transient
{
    private const int MaxRetries = 2;
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxServerDelay = TimeSpan.FromSeconds(5);
    private static readonly ConcurrentDictionary<(TimeProvider Time, bool IsRead), ResiliencePipeline<HttpResponseMessage>> Pipelines = new();

    /// <summary>Sends a request made afresh for every try.</summary>
    /// <param name="client">The client.</param>
    /// <param name="request">Makes the request (a sent request cannot be sent again).</param>
    /// <param name="isRead">Whether the request only reads (GET, HEAD): it may then be retried on more failures.</param>
    /// <param name="time">The clock the waits between tries use.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The last response; the caller disposes it.</returns>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, Func<HttpRequestMessage> request, bool isRead, TimeProvider time, CancellationToken cancellationToken)
    {
        var pipeline = Pipelines.GetOrAdd((time, isRead), key => Build(key.Time, key.IsRead));
        return await pipeline.ExecuteAsync(
            async ct =>
            {
                using var message = request();
                return await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A pipeline is stateless between calls: one per clock and kind of request, built once.</summary>
    private static ResiliencePipeline<HttpResponseMessage> Build(TimeProvider time, bool isRead) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = MaxRetries,
                Delay = FirstDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, isRead)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result)),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            })
            .Build();

    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, bool isRead) => outcome switch
    {
        { Exception: HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } } => true,
        { Exception: HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } } => isRead,
        { Result: { } response } => isRead && response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout,
        _ => false,
    };

    /// <summary>The server's Retry-After (seconds or a date is not trusted beyond 5 s), or null for the exponential default.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage? response) =>
        response?.Headers.RetryAfter?.Delta is { } delta ? (delta < MaxServerDelay ? delta : MaxServerDelay)
        : response?.Headers.TryGetValues("Retry-After", out var values) == true && int.TryParse(values.First(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? TimeSpan.FromSeconds(Math.Min(s, MaxServerDelay.TotalSeconds))
        : null;
}
