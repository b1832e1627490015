namespace RunbookEngine.Actions;

/// <summary>What an action may change.</summary>
public enum SideEffect
{
    /// <summary>Reads only.</summary>
    ReadOnly,

    /// <summary>Changes something that can be changed back.</summary>
    Mutating,

    /// <summary>Deletes or replaces something.</summary>
    Destructive,
}
