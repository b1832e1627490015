using System.Security.Cryptography;
using System.Text;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Server.WebConsole;

/// <summary>
/// The web console's sign-ins: an API token exchanged for a random session id in an HttpOnly cookie, and a CSRF
/// token the page sends back on every change. Kept in the store (<see cref="ISessionStore"/>), so every server
/// on it knows a session and a restart keeps it. The store holds only the SHA-256 of the cookie and of the token:
/// what it holds cannot be sent back as a cookie, and a token revoked from the tokens file ends its sessions at
/// their next request. The CSRF token is derived from the cookie, so it is never stored either.
/// </summary>
internal sealed class ConsoleSessions(ISessionStore store, TimeProvider time, TimeSpan lifetime, TimeSpan idle, int perToken = 100)
{
    /// <summary>The session cookie's name.</summary>
    public const string CookieName = "runbook_session";

    /// <summary>The header that carries the CSRF token on a change.</summary>
    public const string CsrfHeader = "X-Runbook-CSRF";

    /// <summary>Gets how long a session lasts at most.</summary>
    public TimeSpan Lifetime => lifetime;

    /// <summary>
    /// Gets how often a use is written to the store: a session's last use is recorded at most this much late, so it
    /// may end that much before <c>idle</c> has passed since its real last use (a write per request otherwise).
    /// </summary>
    public TimeSpan TouchEvery => TimeSpan.FromTicks(Math.Min(idle.Ticks / 12, TimeSpan.FromMinutes(5).Ticks));

    /// <summary>Opens a session for a token.</summary>
    /// <param name="tokenHash">The token's SHA-256, as in the tokens file.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The cookie's value (shown to no one but the browser) and the session.</returns>
    public async Task<(string CookieValue, Session Session)> OpenAsync(string tokenHash, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cookie = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var session = new ConsoleSession(Key(cookie), tokenHash, now, now + lifetime, now);
        await store.OpenSessionAsync(session, now - idle, perToken, cancellationToken).ConfigureAwait(false);
        return (cookie, new Session(tokenHash, Csrf(cookie), session.Expires));
    }

    /// <summary>The live session a cookie names; an ended or idle one is forgotten.</summary>
    /// <param name="cookieValue">The cookie's value.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The session, or null.</returns>
    public async Task<Session?> FindAsync(string cookieValue, CancellationToken cancellationToken)
    {
        var key = Key(cookieValue);
        if (await store.GetSessionAsync(key, cancellationToken).ConfigureAwait(false) is not { } stored)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (now >= stored.Expires || now - stored.LastSeen >= idle)
        {
            await store.EndSessionAsync(key, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (now - stored.LastSeen >= TouchEvery)
        {
            await store.TouchSessionAsync(key, now, cancellationToken).ConfigureAwait(false);
        }

        return new Session(stored.TokenHash, Csrf(cookieValue), stored.Expires);
    }

    /// <summary>Ends a session.</summary>
    /// <param name="cookieValue">The cookie's value.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    public Task EndAsync(string cookieValue, CancellationToken cancellationToken) => store.EndSessionAsync(Key(cookieValue), cancellationToken);

    /// <summary>Whether a CSRF token sent with a change is the session's (compared in constant time).</summary>
    /// <param name="session">The session.</param>
    /// <param name="sent">The header's value, or null.</param>
    /// <returns>Whether it matches.</returns>
    public static bool CsrfMatches(Session session, string? sent) =>
        sent is { Length: > 0 } && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(session.Csrf));

    /// <summary>The store's id of a session: the SHA-256 of its cookie.</summary>
    /// <param name="cookieValue">The cookie's value.</param>
    /// <returns>The id.</returns>
    public static string Key(string cookieValue) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(cookieValue)));

    // Another hash of the cookie than the store's id, so neither can be computed from the other or from the store.
    private static string Csrf(string cookieValue) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(cookieValue), "runbook console csrf"u8)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>One signed-in browser, as a request sees it.</summary>
    /// <param name="TokenHash">The SHA-256 of the token it signed in with.</param>
    /// <param name="Csrf">The CSRF token of its pages.</param>
    /// <param name="Expires">When it ends, however active.</param>
    internal sealed record Session(string TokenHash, string Csrf, DateTimeOffset Expires);
}
