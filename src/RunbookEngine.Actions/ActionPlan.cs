using System.Text.Json.Nodes;

namespace RunbookEngine.Actions;

/// <summary>What an action would do, computed without doing it.</summary>
/// <param name="Action">The action name.</param>
/// <param name="Operation">The operation, e.g. <c>run</c>, <c>POST</c>.</param>
/// <param name="Target">What it acts on, e.g. a command line or a URL.</param>
/// <param name="Summary">One readable line, e.g. <c>would run: systemctl restart nginx</c>.</param>
/// <param name="SideEffect">What it may change.</param>
/// <param name="Details">Further facts (current state where it could be read, intended state).</param>
public sealed record ActionPlan(string Action, string Operation, string Target, string Summary, SideEffect SideEffect, JsonObject? Details = null);
