namespace RunbookEngine.Server;

/// <summary><c>Authorization: Bearer TOKEN</c> with the source's own token.</summary>
/// <param name="Token">The token.</param>
public sealed record BearerAuth(string Token) : WebhookAuth
{
    /// <inheritdoc/>
    public override string Kind => "bearer";
}
