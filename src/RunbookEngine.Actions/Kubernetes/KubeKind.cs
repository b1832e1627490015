using System.Text.RegularExpressions;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions.Kubernetes;

/// <summary>A resource kind the <c>kubernetes</c> action knows the REST path of.</summary>
/// <param name="Name">The name runbooks use (<c>deployment</c>).</param>
/// <param name="Group">The API group, empty for the core group.</param>
/// <param name="Version">The API version.</param>
/// <param name="Plural">The resource (<c>deployments</c>).</param>
/// <param name="Namespaced">Whether objects live in a namespace.</param>
internal sealed partial record KubeKind(string Name, string Group, string Version, string Plural, bool Namespaced)
{
    /// <summary>Gets every kind, by runbook name. Secrets are left out on purpose: a result is recorded in the timeline.</summary>
    public static IReadOnlyDictionary<string, KubeKind> All { get; } = new KubeKind[]
    {
        new("pod", string.Empty, "v1", "pods", true),
        new("node", string.Empty, "v1", "nodes", false),
        new("namespace", string.Empty, "v1", "namespaces", false),
        new("service", string.Empty, "v1", "services", true),
        new("configmap", string.Empty, "v1", "configmaps", true),
        new("persistentvolumeclaim", string.Empty, "v1", "persistentvolumeclaims", true),
        new("deployment", "apps", "v1", "deployments", true),
        new("statefulset", "apps", "v1", "statefulsets", true),
        new("daemonset", "apps", "v1", "daemonsets", true),
        new("replicaset", "apps", "v1", "replicasets", true),
        new("job", "batch", "v1", "jobs", true),
        new("cronjob", "batch", "v1", "cronjobs", true),
    }.ToDictionary(k => k.Name, StringComparer.Ordinal);

    /// <summary>Gets whether <c>restart</c> applies (it has a pod template).</summary>
    public bool Restartable => Name is "deployment" or "statefulset" or "daemonset";

    /// <summary>Gets whether <c>scale</c> applies (it has a scale subresource).</summary>
    public bool Scalable => Name is "deployment" or "statefulset" or "replicaset";

    /// <summary>The path of the collection, or of one object.</summary>
    /// <param name="ns">The namespace (ignored for cluster-scoped kinds).</param>
    /// <param name="name">The object's name, or null for the collection.</param>
    /// <returns>E.g. <c>/apis/apps/v1/namespaces/prod/deployments/api</c>.</returns>
    public string Path(string ns, string? name) =>
        (Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}")
        + (Namespaced ? $"/namespaces/{Uri.EscapeDataString(ns)}" : string.Empty)
        + $"/{Plural}"
        + (name is null ? string.Empty : "/" + Uri.EscapeDataString(name));

    /// <summary>Describes an object for messages: <c>deployment prod/api</c>.</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="name">The name.</param>
    /// <returns>The description.</returns>
    public string Describe(string ns, string name) => Namespaced ? $"{Name} {ns}/{name}" : $"{Name} {name}";

    /// <summary>Checks an object or namespace name (a DNS subdomain), so a value from an alert cannot reach another path.</summary>
    /// <param name="value">The name.</param>
    /// <param name="key">The input it came from.</param>
    /// <returns>The name.</returns>
    public static string CheckName(string value, string key) =>
        value.Length <= 253 && NamePattern().IsMatch(value)
            ? value
            : throw new StepException("InvalidInput", $"kubernetes: '{key}' must be a Kubernetes name (lower-case letters, digits, '-' and '.'), got '{value}'", nonRetryable: true);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
