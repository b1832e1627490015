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
        foreach (var fault in result.Faults)
        {
            b.Append(CultureInfo.InvariantCulture, $"  fault: {DrillScenario.Format(fault.At)} {fault.What}\n");
        }

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

            if (r.Faults.Count > 0)
            {
                b.Append("\nFaults injected:\n\n");
                foreach (var f in r.Faults)
                {
                    b.Append(CultureInfo.InvariantCulture, $"- {DrillScenario.Format(f.At)}{(f.Until is { } u ? " to " + DrillScenario.Format(u) : string.Empty)}: {Cell(f.What)}\n");
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

    /// <summary>
    /// An SVG timeline chart of a drill: the alert (firing to resolved), detection (the run created), each step's
    /// attempts (green done, red failed; a step's verify polls lighter), approval waits (amber), and recovery, on
    /// one time axis from the drill's start. Self-contained (no script, no external font or style).
    /// </summary>
    /// <param name="result">The result.</param>
    /// <param name="drill">The drill, for the alert's times.</param>
    /// <returns>The SVG document.</returns>
    public static string Svg(DrillResult result, Drill drill)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(drill);
        XNamespace ns = "http://www.w3.org/2000/svg";
        const double Left = 170, Width = 760, Row = 26, Top = 56;
        var end = new[] { result.VirtualDuration, drill.Alerts.Select(a => a.Resolved ?? TimeSpan.Zero).DefaultIfEmpty().Max(), TimeSpan.FromSeconds(1) }.Max();
        double X(TimeSpan t) => Left + (Width * Math.Clamp(t / end, 0, 1));
        string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
        var items = new List<XElement>();
        var rows = new List<string>();
        int RowOf(string label)
        {
            var i = rows.IndexOf(label);
            if (i < 0)
            {
                rows.Add(label);
                i = rows.Count - 1;
            }

            return i;
        }

        XElement Bar(int row, TimeSpan from, TimeSpan to, string fill, string title) => new(
            ns + "rect",
            new XAttribute("x", F(X(from))),
            new XAttribute("y", F(Top + (row * Row) + 5)),
            new XAttribute("width", F(Math.Max(2, X(to) - X(from)))),
            new XAttribute("height", F(Row - 10)),
            new XAttribute("rx", "3"),
            new XAttribute("fill", fill),
            new XElement(ns + "title", title));

        foreach (var alert in drill.Alerts)
        {
            var row = RowOf("alert " + alert.Name);
            items.Add(Bar(row, alert.Fired, alert.Resolved ?? end, "#b0b7c3", $"{alert.Name} firing from {DrillScenario.Format(alert.Fired)}{(alert.Resolved is { } r ? " to " + DrillScenario.Format(r) : string.Empty)}"));
        }

        foreach (var fault in result.Faults.Where(f => f.Kind != "delivery_refused"))
        {
            var what = fault.Kind == "store_unreachable" ? "store down" : "worker died";
            items.Add(Bar(RowOf("fault: " + what), fault.At, fault.Until ?? fault.At, "#7a1f1f", $"{DrillScenario.Format(fault.At)}: {fault.What}"));
        }

        var open = new Dictionary<(string Name, long Attempt), DrillEvent>();
        var asked = new Dictionary<string, DrillEvent>(StringComparer.Ordinal);
        foreach (var e in result.Timeline)
        {
            var name = e.Step;
            switch (e.Kind)
            {
                case "step.started" when name is not null:
                    open[(name, e.Data?["attempt"]?.GetValue<int>() ?? 1)] = e;
                    break;
                case "step.completed" or "step.failed" when name is not null && open.Remove((name, e.Data?["attempt"]?.GetValue<int>() ?? 1), out var start):
                    var verify = name.Contains("/verify", StringComparison.Ordinal);
                    var ok = e.Kind == "step.completed";
                    var fill = ok ? (verify ? "#8fd19e" : "#2e9e4f") : (verify ? "#f1a3a3" : "#d64545");
                    items.Add(Bar(RowOf(name.Split('/', '#')[0]), start.At, e.At, fill, $"{name} attempt {e.Data?["attempt"]}: {(ok ? "done" : e.Data?["error_kind"]?.ToString() ?? "failed")} {DrillScenario.Format(start.At)} to {DrillScenario.Format(e.At)}"));
                    break;
                case "approval.requested" when name is not null:
                    asked[name] = e;
                    break;
                case "approval.granted" or "approval.rejected" or "approval.timed_out" when name is not null && asked.Remove(name, out var request):
                    items.Add(Bar(RowOf(name.Split('/')[0]), request.At, e.At, "#e8a33d", $"{name}: waited {Duration(e.At - request.At)} for approval, {e.Kind["approval.".Length..].Replace('_', ' ')}{(e.Data?["by"] is { } by ? " by " + by : string.Empty)}"));
                    break;
            }
        }

        foreach (var (name, request) in asked)
        {
            items.Add(Bar(RowOf(name.Split('/')[0]), request.At, end, "#e8a33d", $"{name}: waiting for approval, never decided"));
        }

        var height = Top + (rows.Count * Row) + 44;
        var marks = new List<XElement>();
        void Mark(TimeSpan at, string label, string color)
        {
            marks.Add(new XElement(ns + "line", new XAttribute("x1", F(X(at))), new XAttribute("x2", F(X(at))), new XAttribute("y1", F(Top - 6)), new XAttribute("y2", F(height - 30)), new XAttribute("stroke", color), new XAttribute("stroke-dasharray", "4 3")));
            marks.Add(new XElement(ns + "text", new XAttribute("x", F(X(at) + 3)), new XAttribute("y", F(Top - 10)), new XAttribute("fill", color), new XAttribute("font-size", "11"), label));
        }

        var fired = drill.Alerts.Count > 0 ? drill.Alerts[0].Fired : (TimeSpan?)null;
        if (fired is { } f && result.Mttd is { } mttd)
        {
            Mark(f + mttd, $"detected (MTTD {Duration(mttd)})", "#3a6ea5");
        }

        if (fired is { } f2 && result.Mttr is { } mttr)
        {
            Mark(f2 + mttr, $"recovered (MTTR {Duration(mttr)}, {result.RecoveredBy})", "#2e9e4f");
        }

        var axis = new List<XElement>();
        for (var i = 0; i <= 4; i++)
        {
            var t = end * (i / 4.0);
            axis.Add(new XElement(ns + "text", new XAttribute("x", F(X(t))), new XAttribute("y", F(height - 12)), new XAttribute("font-size", "11"), new XAttribute("text-anchor", "middle"), new XAttribute("fill", "#555"), DrillScenario.Format(t)));
        }

        var labels = rows.Select((r, i) => new XElement(ns + "text", new XAttribute("x", "8"), new XAttribute("y", F(Top + (i * Row) + 17)), new XAttribute("font-size", "12"), new XAttribute("fill", "#222"), r.Length > 24 ? r[..23] + "…" : r, new XElement(ns + "title", r)));
        var svg = new XElement(
            ns + "svg",
            new XAttribute("width", F(Left + Width + 30)),
            new XAttribute("height", F(height)),
            new XAttribute("viewBox", $"0 0 {F(Left + Width + 30)} {F(height)}"),
            new XAttribute("font-family", "sans-serif"),
            new XAttribute("role", "img"),
            new XElement(ns + "title", $"drill {result.Drill} on {result.Runbook}: {(result.Passed ? "passed" : "failed")}"),
            new XElement(ns + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "#ffffff")),
            new XElement(ns + "text", new XAttribute("x", "8"), new XAttribute("y", "20"), new XAttribute("font-size", "15"), new XAttribute("font-weight", "bold"), $"{result.Drill} on {result.Runbook}: {(result.Passed ? "passed" : "FAILED")}, run {result.Status ?? "not started"}"),
            new XElement(ns + "line", new XAttribute("x1", F(Left)), new XAttribute("x2", F(Left + Width)), new XAttribute("y1", F(height - 28)), new XAttribute("y2", F(height - 28)), new XAttribute("stroke", "#999")),
            labels,
            items,
            marks,
            axis);
        return new XDocument(svg).ToString() + "\n";
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
