namespace RunbookEngine.Actions;

/// <summary>One key an action accepts under <c>with:</c>.</summary>
/// <param name="Name">The key.</param>
/// <param name="Type">Its type.</param>
/// <param name="Required">Whether it must be given.</param>
/// <param name="Description">What it means (shown by docs and help).</param>
/// <param name="AllowedValues">For strings: the only accepted values, if restricted.</param>
public sealed record ActionParameter(string Name, ParameterType Type, bool Required, string Description, IReadOnlyList<string>? AllowedValues = null);
