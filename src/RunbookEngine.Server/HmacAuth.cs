using System.Security.Cryptography;
using System.Text;

namespace RunbookEngine.Server;

/// <summary>
/// A delivery signed with a shared secret: the hex HMAC-SHA256 of the body in <see cref="Header"/> (as Grafana's
/// webhook contact point signs, and most webhook senders can); with <see cref="TimestampHeader"/>, of
/// <c>TIMESTAMP:BODY</c>, the timestamp (Unix seconds) must be within <see cref="Tolerance"/> of the server's clock
/// and a signature is accepted once.
/// </summary>
/// <param name="Secrets">The shared secrets (several during a rotation).</param>
/// <param name="Header">The request header with the signature.</param>
/// <param name="TimestampHeader">The request header with the signing time, or null when the sender signs the body alone.</param>
/// <param name="Tolerance">How far the signing time may be from the server's clock.</param>
public sealed record HmacAuth(IReadOnlyList<string> Secrets, string Header, string? TimestampHeader, TimeSpan Tolerance) : WebhookAuth
{
    /// <summary>The signature header when the configuration names none.</summary>
    public const string DefaultHeader = "X-Signature";

    /// <inheritdoc/>
    public override string Kind => "hmac";

    /// <summary>Whether a signature header matches the body (and timestamp) for one of the secrets, in constant time.</summary>
    /// <param name="body">The raw body.</param>
    /// <param name="signature">The header's value: hex, optionally <c>sha256=</c>-prefixed.</param>
    /// <param name="timestamp">The timestamp header's value, when the source signs with one.</param>
    /// <returns>Whether it matches.</returns>
    public bool Verify(ReadOnlySpan<byte> body, string signature, string? timestamp)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var given = Encoding.ASCII.GetBytes(Normalize(signature));
        var signed = timestamp is null ? body.ToArray() : [.. Encoding.UTF8.GetBytes(timestamp + ":"), .. body];
        var ok = false;
        foreach (var secret in Secrets)
        {
            var expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed)));
            ok |= CryptographicOperations.FixedTimeEquals(expected, given);
        }

        return ok;
    }

    /// <summary>The signature as compared and remembered: lower-case hex without a <c>sha256=</c> prefix.</summary>
    /// <param name="signature">The header's value.</param>
    /// <returns>The normalized signature.</returns>
    public static string Normalize(string signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var s = signature.Trim();
        return (s.StartsWith("sha256=", StringComparison.OrdinalIgnoreCase) ? s[7..] : s).ToLowerInvariant();
    }
}
