namespace RunbookEngine.Server;

/// <summary>A token in the URL (<c>?token=</c>), for senders that cannot set headers (Azure Monitor action groups).</summary>
/// <param name="Token">The token.</param>
public sealed record QueryTokenAuth(string Token) : WebhookAuth
{
    /// <inheritdoc/>
    public override string Kind => "query_token";
}
