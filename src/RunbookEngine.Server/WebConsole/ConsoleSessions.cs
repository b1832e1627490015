using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace RunbookEngine.Server.WebConsole;

/// <summary>
/// The web console's sign-ins: an API token exchanged for a random session id in an HttpOnly cookie, and a CSRF
/// token the page sends back on every change. Kept in this server's memory: a restart signs everyone out, and
/// behind a load balancer a session is good on the server that made it. Only the token's SHA-256 is kept, so a
/// token revoked from the tokens file ends its sessions at their next request.
/// </summary>
internal sealed class ConsoleSessions(TimeProvider time, TimeSpan lifetime, TimeSpan idle, int capacity = 10_000)
{
    /// <summary>The session cookie's name.</summary>
    public const string CookieName = "runbook_session";

    /// <summary>The header that carries the CSRF token on a change.</summary>
    public const string CsrfHeader = "X-Runbook-CSRF";

    private readonly ConcurrentDictionary<string, Session> sessions = new(StringComparer.Ordinal);

    /// <summary>Gets how long a session lasts at most.</summary>
    public TimeSpan Lifetime => lifetime;

    /// <summary>Opens a session for a token.</summary>
    /// <param name="tokenHash">The token's SHA-256, as in the tokens file.</param>
    /// <returns>The cookie's value (shown to no one but the browser) and the session.</returns>
    public (string CookieValue, Session Session) Open(string tokenHash)
    {
        var now = time.GetUtcNow();
        if (sessions.Count >= capacity)
        {
            foreach (var (key, old) in sessions)
            {
                if (!old.IsLive(now, idle))
                {
                    sessions.TryRemove(key, out _);
                }
            }

            // Still full of live sessions: the oldest goes, so signing in always works.
            while (sessions.Count >= capacity && sessions.OrderBy(p => p.Value.Opened).FirstOrDefault() is { Key: { } oldest })
            {
                sessions.TryRemove(oldest, out _);
            }
        }

        var id = Random();
        var session = new Session(tokenHash, Random(), now, now + lifetime) { LastSeen = now };
        sessions[Key(id)] = session;
        return (id, session);
    }

    /// <summary>The live session a cookie names; an ended or idle one is forgotten.</summary>
    /// <param name="cookieValue">The cookie's value.</param>
    /// <returns>The session, or null.</returns>
    public Session? Find(string cookieValue)
    {
        var key = Key(cookieValue);
        if (!sessions.TryGetValue(key, out var session))
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (!session.IsLive(now, idle))
        {
            sessions.TryRemove(key, out _);
            return null;
        }

        session.LastSeen = now;
        return session;
    }

    /// <summary>Ends a session.</summary>
    /// <param name="cookieValue">The cookie's value.</param>
    public void End(string cookieValue) => sessions.TryRemove(Key(cookieValue), out _);

    /// <summary>Whether a CSRF token sent with a change is the session's (compared in constant time).</summary>
    /// <param name="session">The session.</param>
    /// <param name="sent">The header's value, or null.</param>
    /// <returns>Whether it matches.</returns>
    public static bool CsrfMatches(Session session, string? sent) =>
        sent is { Length: > 0 } && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(session.Csrf));

    private static string Random() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    // Kept by the hash of the cookie: what is in memory cannot be replayed as a cookie.
    private static string Key(string cookieValue) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(cookieValue)));

    /// <summary>One signed-in browser.</summary>
    /// <param name="TokenHash">The SHA-256 of the token it signed in with.</param>
    /// <param name="Csrf">The CSRF token of its pages.</param>
    /// <param name="Opened">When it signed in.</param>
    /// <param name="Expires">When it ends, however active.</param>
    internal sealed record Session(string TokenHash, string Csrf, DateTimeOffset Opened, DateTimeOffset Expires)
    {
        /// <summary>Gets or sets when it was last used.</summary>
        public DateTimeOffset LastSeen { get; set; }

        /// <summary>Whether it is still good.</summary>
        /// <param name="now">Now.</param>
        /// <param name="idle">How long it may go unused.</param>
        /// <returns>Whether it is live.</returns>
        public bool IsLive(DateTimeOffset now, TimeSpan idle) => now < Expires && now - LastSeen < idle;
    }
}
