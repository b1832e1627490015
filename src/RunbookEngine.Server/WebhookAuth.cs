using System.Security.Cryptography;
using System.Text;

namespace RunbookEngine.Server;

/// <summary>How a webhook source proves a delivery is its own.</summary>
public abstract record WebhookAuth
{
    /// <summary>Gets what the auth is called in the configuration and in errors.</summary>
    public abstract string Kind { get; }

    /// <summary>Compares two secrets in time that does not depend on where they differ.</summary>
    /// <param name="presented">What the request carries.</param>
    /// <param name="expected">The configured secret.</param>
    /// <returns>Whether they are equal.</returns>
    internal static bool Same(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
