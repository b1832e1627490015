using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>The answers to successive calls, in order; the last one answers every call after it.</summary>
/// <param name="Items">The answers.</param>
/// <param name="At">Where they are written.</param>
public sealed record DrillAnswers(IReadOnlyList<DrillAnswer> Items, SourceLocation At)
{
    /// <summary>The answer to the call with this 0-based index.</summary>
    /// <param name="call">How many calls were answered before.</param>
    /// <returns>The answer.</returns>
    public DrillAnswer For(int call)
    {
        var left = call;
        foreach (var item in Items)
        {
            if (left < item.Times)
            {
                return item;
            }

            left -= item.Times;
        }

        return Items[^1];
    }
}
