using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace RunbookEngine.Workflows;

/// <summary>The activity types a worker can execute for its task queues.</summary>
public sealed class ActivityRegistry
{
    private readonly ConcurrentDictionary<string, Func<IStepContext, Task<JsonNode?>>> activities = new(StringComparer.Ordinal);

    /// <summary>Registers an activity type.</summary>
    /// <param name="name">The activity type name.</param>
    /// <param name="body">The code; <see cref="IStepContext.Input"/> carries its input.</param>
    /// <returns>This registry.</returns>
    public ActivityRegistry Add(string name, Func<IStepContext, Task<JsonNode?>> body)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(body);
        activities[name] = body;
        return this;
    }

    /// <summary>Gets the registered activity type names (for engines that register each with their own worker).</summary>
    public IReadOnlyCollection<string> Names => [.. activities.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Finds an activity type.</summary>
    /// <param name="name">The name.</param>
    /// <param name="body">The code, when found.</param>
    /// <returns>Whether it is registered.</returns>
    public bool TryGet(string name, out Func<IStepContext, Task<JsonNode?>> body) => activities.TryGetValue(name, out body!);
}
