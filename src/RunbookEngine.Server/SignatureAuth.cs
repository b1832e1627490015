using System.Security.Cryptography;

namespace RunbookEngine.Server;

/// <summary>PagerDuty V3's <c>X-PagerDuty-Signature</c>: an HMAC-SHA256 of the body with one of these secrets.</summary>
/// <param name="Secrets">The subscriptions' signing secrets (several during a rotation).</param>
public sealed record SignatureAuth(IReadOnlyList<string> Secrets) : WebhookAuth
{
    /// <inheritdoc/>
    public override string Kind => "signature";
}
