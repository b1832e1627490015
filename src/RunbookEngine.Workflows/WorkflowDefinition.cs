using System.Security.Cryptography;
using System.Text;

namespace RunbookEngine.Workflows;

/// <summary>
/// An immutable workflow definition: a name and the content it was compiled from.
/// </summary>
/// <remarks>
/// The content is whatever lets a resolver rebuild the executable workflow (a compiled runbook, a script,
/// or a version label for workflows written as code). Its SHA-256 <see cref="Hash"/> pins the definition to
/// every run started with it: the store keeps the content by hash and a run is replayed against the
/// definition it started with for its whole life, whatever is edited afterwards.
/// </remarks>
public sealed class WorkflowDefinition
{
    /// <summary>Initializes a new instance of the <see cref="WorkflowDefinition"/> class.</summary>
    /// <param name="name">The workflow name, e.g. <c>disk-full-cleanup</c>.</param>
    /// <param name="content">The definition content.</param>
    public WorkflowDefinition(string name, string content)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(content);
        Name = name;
        Content = content;
        Hash = ComputeHash(name, content);
    }

    /// <summary>Gets the workflow name.</summary>
    public string Name { get; }

    /// <summary>Gets the content the workflow is built from.</summary>
    public string Content { get; }

    /// <summary>Gets the lower-case hex SHA-256 of name and content.</summary>
    public string Hash { get; }

    /// <summary>Computes the content hash of a definition.</summary>
    /// <param name="name">The workflow name.</param>
    /// <param name="content">The content.</param>
    /// <returns>Lower-case hex SHA-256.</returns>
    public static string ComputeHash(string name, string content)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\n" + content);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }
}
