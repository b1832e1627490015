namespace RunbookEngine.Server;

/// <summary>HTTP basic authentication (<c>Authorization: Basic ...</c>) with the source's user and password.</summary>
/// <param name="Username">The user name.</param>
/// <param name="Password">The password.</param>
public sealed record BasicAuth(string Username, string Password) : WebhookAuth
{
    /// <inheritdoc/>
    public override string Kind => "basic";
}
