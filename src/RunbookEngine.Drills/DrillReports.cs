using System.Globalization;
using System.Text;
using System.Xml.Linq;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills;

/// <summary>A drill's result as people and CI pipelines read it: text for the terminal, Markdown for a postmortem, JUnit XML for CI.</summary>
public static class DrillReports
{
    /// <summary>A short text report: the verdict, each expectation, MTTD/MTTR and what the drill noticed.</summary>
    /// <param name="result">The result.</param>
    /// <returns>The text.</returns>
    public static string Text(DrillResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"drill {result.Drill} ({result.File}) on {result.Runbook}: {(result.Passed ? "passed" : "FAILED")}");
        b.Append(CultureInfo.InvariantCulture, $" ({Duration(result.VirtualDuration)} of incident time in {result.ElapsedMilliseconds:0} ms)\n");
        foreach (var check in result.Checks)
        {
            b.Append(CultureInfo.InvariantCulture, $"  {(check.Passed ? "pass" : "FAIL")}  {check.Name}: {check.Actual}");
            if (!check.Passed)
            {
                b.Append(CultureInfo.InvariantCulture, $" (expected {check.Expected}{(check.Location is null ? string.Empty : $"; {check.Location}")})");
            }

            b.Append('\n');
        }

        b.Append(CultureInfo.InvariantCulture, $"  run: {result.Status ?? "none"}{(result.ErrorKind is null ? string.Empty : $" ({result.ErrorKind}: {result.Error})")}; MTTD {Metric(result.Mttd)}, MTTR {Metric(result.Mttr)}{(result.Mttr is null || result.RecoveredBy is null ? string.Empty : $" ({result.RecoveredBy})")}\n");
        foreach (var note in result.Notes)
        {
            b.Append(CultureInfo.InvariantCulture, $"  note: {note}\n");
        }

        return b.ToString();
    }

    /// <summary>A Markdown report for a postmortem: verdicts, expectations, MTTD/MTTR, the timeline and every call.</summary>
    /// <param name="results">The drills' results.</param>
    /// <returns>The Markdown.</returns>
    public static string Markdown(IReadOnlyList<DrillResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"# Drill report\n\n{results.Count(r => r.Passed)} of {results.Count} drill(s) passed.\n\n");
        b.Append("| drill | runbook | verdict | run | MTTD | MTTR |\n|---|---|---|---|---|---|\n");
        foreach (var r in results)
        {
            b.Append(CultureInfo.InvariantCulture, $"| {Cell(r.Drill)} | {Cell(r.Runbook)} | {(r.Passed ? "passed" : "**failed**")} | {Cell(r.Status ?? "none")} | {Metric(r.Mttd)} | {Metric(r.Mttr)} |\n");
        }

        foreach (var r in results)
        {
            b.Append(CultureInfo.InvariantCulture, $"\n## {r.Drill}: {(r.Passed ? "passed" : "failed")}\n\n");
            b.Append(CultureInfo.InvariantCulture, $"Drill `{r.File}` replayed against runbook `{r.RunbookFile}`: {Duration(r.VirtualDuration)} of incident time in {r.ElapsedMilliseconds:0} ms. ");
            b.Append(CultureInfo.InvariantCulture, $"The run ended **{r.Status ?? "without starting"}**{(r.ErrorKind is null ? string.Empty : $" ({Cell(r.ErrorKind)}: {Cell(r.Error ?? string.Empty)})")}; ");
            b.Append(CultureInfo.InvariantCulture, $"MTTD {Metric(r.Mttd)}, MTTR {Metric(r.Mttr)}{(r.Mttr is null || r.RecoveredBy is null ? string.Empty : $" ({r.RecoveredBy})")}.\n\n");
            b.Append("| expectation | result | expected | actual |\n|---|---|---|---|\n");
            foreach (var c in r.Checks)
            {
                b.Append(CultureInfo.InvariantCulture, $"| {Cell(c.Name)} | {(c.Passed ? "pass" : "**FAIL**")} | {Cell(c.Expected)} | {Cell(c.Actual)} |\n");
            }

            if (r.Notes.Count > 0)
            {
                b.Append("\nNoticed:\n\n");
                foreach (var n in r.Notes)
                {
                    b.Append(CultureInfo.InvariantCulture, $"- {n}\n");
                }
            }

            if (r.Alerts.Count > 0)
            {
                b.Append("\nAlerts:\n\n");
                foreach (var a in r.Alerts)
                {
                    b.Append(CultureInfo.InvariantCulture, $"- {Cell(a)}\n");
                }
            }

            b.Append("\n### Timeline\n\n| time | event | step | by | detail |\n|---|---|---|---|---|\n");
            foreach (var e in r.Timeline)
            {
                b.Append(CultureInfo.InvariantCulture, $"| {DrillScenario.Format(e.At)} | {e.Kind} | {Cell(e.Step ?? string.Empty)} | {Cell(e.Actor)} | {Cell(Detail(e))} |\n");
            }

            if (r.Calls.Count > 0)
            {
                b.Append("\n### Action calls\n\n| time | step | action | attempt | changes | answered |\n|---|---|---|---|---|---|\n");
                foreach (var c in r.Calls)
                {
                    b.Append(CultureInfo.InvariantCulture, $"| {DrillScenario.Format(c.At)} | {Cell(c.Step)}{(c.Role == "action" ? string.Empty : $" ({c.Role})")} | {c.Action} | {c.Attempt} | {c.SideEffect} | {Cell(c.Answer ?? "**no answer**")} |\n");
                }
            }
        }

        return b.ToString();
    }

    /// <summary>A JUnit XML report: one test suite, a test case per drill, a failure per expectation that did not hold.</summary>
    /// <param name="results">The drills' results.</param>
    /// <returns>The XML.</returns>
    public static string JUnit(IReadOnlyList<DrillResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var seconds = (double ms) => (ms / 1000).ToString("0.000", CultureInfo.InvariantCulture);
        var suite = new XElement(
            "testsuite",
            new XAttribute("name", "runbook drills"),
            new XAttribute("tests", results.Count),
            new XAttribute("failures", results.Count(r => !r.Passed)),
            new XAttribute("errors", 0),
            new XAttribute("time", seconds(results.Sum(r => r.ElapsedMilliseconds))),
            results.Select(r => new XElement(
                "testcase",
                new XAttribute("classname", "drills." + r.Runbook),
                new XAttribute("name", r.Drill),
                new XAttribute("file", r.File),
                new XAttribute("time", seconds(r.ElapsedMilliseconds)),
                r.Checks.Where(c => !c.Passed).Select(c => new XElement(
                    "failure",
                    new XAttribute("message", $"{c.Name}: expected {c.Expected}, got {c.Actual}"),
                    new XAttribute("type", "expectation"),
                    $"{c.Location ?? r.File}: {c.Name}: expected {c.Expected}, got {c.Actual}")),
                new XElement("system-out", Text(r)))));
        var document = new XDocument(new XDeclaration("1.0", "utf-8", null), new XElement("testsuites", suite));
        return $"{document.Declaration}\n{document.Root}\n";
    }

    private static string Metric(TimeSpan? t) => t is { } v ? Duration(v) : "n/a";

    private static string Duration(TimeSpan t) => t <= TimeSpan.Zero ? "0s" : Durations.Format(t);

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string Detail(DrillEvent e)
    {
        var d = e.Data;
        string? S(string key) => d?[key] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var s) ? s : d?[key]?.ToJsonString();
        return e.Kind switch
        {
            "step.failed" or "run.failed" => $"{S("error_kind")}: {S("error")}",
            "step.started" or "step.completed" => $"attempt {S("attempt")}",
            "approval.requested" => S("message") ?? string.Empty,
            "approval.granted" or "approval.rejected" or "approval.refused" => $"by {S("by")}{(S("comment") is { } c ? ": " + c : string.Empty)}{(S("reason") is { } r ? " (" + r + ")" : string.Empty)}",
            "approval.timed_out" => $"outcome {S("outcome")}",
            "run.waiting" => $"{S("reason")}{(S("until") is { } u ? " until " + u : string.Empty)}",
            "step.skipped" => S("condition") ?? string.Empty,
            "alert.repeated" or "alert.resolved" => S("action") ?? string.Empty,
            _ => string.Empty,
        };
    }
}
