namespace RunbookEngine.Actions;

/// <summary>The type of an action parameter, checked when a runbook is validated.</summary>
public enum ParameterType
{
    /// <summary>Text.</summary>
    String,

    /// <summary>A number.</summary>
    Number,

    /// <summary>true or false.</summary>
    Boolean,

    /// <summary>A list.</summary>
    List,

    /// <summary>A map of names to values.</summary>
    Map,

    /// <summary>A string or a list of strings.</summary>
    StringOrList,

    /// <summary>A string or a map (e.g. a request body).</summary>
    StringOrMap,

    /// <summary>A number or a list of numbers.</summary>
    NumberOrList,

    /// <summary>
    /// A path, relative to the runbook's file, to a file beside it. The file is read when the runbook is loaded and
    /// pinned with it (a run uses the text it started with, on every worker); the action receives
    /// <c>{ "path": ..., "content": ... }</c>.
    /// </summary>
    File,
}
