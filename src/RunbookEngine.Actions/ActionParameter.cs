namespace RunbookEngine.Actions;

/// <summary>One key an action accepts under <c>with:</c>.</summary>
/// <param name="Name">The key.</param>
/// <param name="Type">Its type.</param>
/// <param name="Required">Whether it must be given.</param>
/// <param name="Description">What it means (shown by docs and help).</param>
/// <param name="AllowedValues">For strings: the only accepted values, if restricted.</param>
public sealed record ActionParameter(string Name, ParameterType Type, bool Required, string Description, IReadOnlyList<string>? AllowedValues = null)
{
    /// <summary>
    /// Gets a value indicating whether the value must be written as is, with no <c>${{ }}</c> expression in it:
    /// code (a PowerShell script) that an expression would paste values into, where a value an alert sets could run as code.
    /// </summary>
    public bool Verbatim { get; init; }
}
