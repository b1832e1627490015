namespace RunbookEngine.Workflows.Storage;

/// <summary>One signed-in browser of the web console.</summary>
/// <param name="Id">The SHA-256 (hex) of its cookie: what is stored cannot be sent back as a cookie.</param>
/// <param name="TokenHash">The SHA-256 of the API token it signed in with, as in the tokens file.</param>
/// <param name="Opened">When it signed in.</param>
/// <param name="Expires">When it ends, however active.</param>
/// <param name="LastSeen">When it was last used, as recorded (the console records a use at most every few minutes).</param>
public sealed record ConsoleSession(string Id, string TokenHash, DateTimeOffset Opened, DateTimeOffset Expires, DateTimeOffset LastSeen);
