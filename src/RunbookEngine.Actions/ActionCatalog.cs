using System.Collections.Concurrent;

namespace RunbookEngine.Actions;

/// <summary>The actions a runbook may name.</summary>
public sealed class ActionCatalog
{
    private readonly ConcurrentDictionary<string, IRunbookAction> actions = new(StringComparer.Ordinal);

    /// <summary>Gets a catalog of every built-in action (every <see cref="IRunbookAction"/> in this assembly).</summary>
    /// <returns>The catalog.</returns>
    public static ActionCatalog CreateDefault()
    {
        var catalog = new ActionCatalog();
        foreach (var type in typeof(ActionCatalog).Assembly.GetTypes())
        {
            if (type is { IsClass: true, IsAbstract: false } && typeof(IRunbookAction).IsAssignableFrom(type) && type.GetConstructor(Type.EmptyTypes) is { } ctor)
            {
                catalog.Add((IRunbookAction)ctor.Invoke(null));
            }
        }

        return catalog;
    }

    /// <summary>Gets the actions, by name.</summary>
    public IEnumerable<IRunbookAction> All => actions.Values.OrderBy(a => a.Name, StringComparer.Ordinal);

    /// <summary>Adds or replaces an action.</summary>
    /// <param name="action">The action.</param>
    /// <returns>This catalog.</returns>
    public ActionCatalog Add(IRunbookAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        actions[action.Name] = action;
        return this;
    }

    /// <summary>Finds an action.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="action">The action.</param>
    /// <returns>Whether it exists.</returns>
    public bool TryGet(string name, out IRunbookAction action) => actions.TryGetValue(name, out action!);
}
