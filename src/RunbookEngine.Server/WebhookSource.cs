using RunbookEngine.Alerts;

namespace RunbookEngine.Server;

/// <summary>One configured webhook source.</summary>
/// <param name="Name">Its name: a built-in source, or a generic source's name (its URL is <c>/hooks/NAME</c>).</param>
/// <param name="Auth">Its own credential; null for an operator API token.</param>
/// <param name="Mapping">A generic source's mapping; null for built-in sources.</param>
public sealed record WebhookSource(string Name, WebhookAuth? Auth, GenericMapping? Mapping);
