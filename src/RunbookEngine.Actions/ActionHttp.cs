namespace RunbookEngine.Actions;

/// <summary>The one HTTP client the built-in actions share: pooled connections, no redirects, no client-side timeout.</summary>
internal static class ActionHttp
{
    /// <summary>Gets the client. The step's timeout and cancellation bound every request.</summary>
    public static HttpClient Client { get; } = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
}
