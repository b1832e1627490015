namespace RunbookEngine.Drills.Tests;

public sealed class DrillParserTests : IDisposable
{
    private readonly DrillHost host = new();

    private const string Runbook = """
        name: two-steps
        steps:
          - id: first
            action: log
            with: { message: one }
          - id: second
            action: shell
            with: { command: [echo, two] }
        """;

    public void Dispose() => host.Dispose();

    private static IReadOnlyList<string> Problems(string yaml) =>
        [.. new DrillParser(DrillHost.Actions).Parse("d.drill.yaml", yaml).Diagnostics.Select(d => d.ToString())];

    [Fact]
    public void Every_problem_is_reported_at_its_line_and_column_with_a_suggestion()
    {
        var problems = Problems("""
            drill: broken
            runbook: two-steps
            run: { inputs: {} }
            steps:
              first:
                respond: {}
                fail: Boom
              second:
                respond: {}
                latency: soon
            actions:
              shel: { respond: {} }
            expct: { outcome: completed }
            """);

        Assert.Contains("d.drill.yaml:6:5: an answer in 'steps.first' has both 'respond' and 'fail': one call gives one answer (list several under 'calls')", problems);
        Assert.Contains("d.drill.yaml:10:14: 'latency' must be a duration like 500ms, 30s, 5m, 2h or 1h30m", problems);
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:12:3: unknown action 'shel' in 'actions' (did you mean 'shell'?)", StringComparison.Ordinal));
        Assert.Contains("d.drill.yaml:13:1: unknown key 'expct' in a drill (did you mean 'expect'?)", problems);
        Assert.Contains("d.drill.yaml:1:1: missing 'expect': say what must hold, e.g. expect: { outcome: completed, mttr: 15m }", problems);
    }

    [Fact]
    public void A_plan_is_checked_key_by_key()
    {
        var problems = Problems("drill: p\nrunbook: r\nrun: { dry_run: true }\nsteps:\n  a:\n    plan: { summary: [not, text], sumary: x, details: 3 }\nexpect: { outcome: completed }\n");

        Assert.Contains("d.drill.yaml:6:22: 'steps.a.plan.summary' must be a string", problems);
        Assert.Contains("d.drill.yaml:6:35: unknown key 'sumary' in 'steps.a.plan' (did you mean 'summary'?)", problems);
        Assert.Contains("d.drill.yaml:6:55: 'steps.a.plan.details' must be a mapping", problems);
        Assert.Equal(3, problems.Count);
    }

    [Fact]
    public void A_yaml_syntax_error_an_empty_file_and_a_drill_with_nothing_happening_are_refused()
    {
        Assert.Contains(Problems("drill: x\nrunbook: [unclosed\n"), p => p.StartsWith("d.drill.yaml:3:1: YAML syntax error", StringComparison.Ordinal));
        Assert.Equal(["d.drill.yaml:1:1: the file is empty; a drill needs at least 'drill', 'runbook' and 'expect'"], Problems(string.Empty));
        Assert.Contains("d.drill.yaml:1:1: a drill needs 'alerts' (what fired) or 'run' (a run started by hand), or both", Problems("drill: x\nrunbook: y\nexpect: { outcome: completed }\n"));
    }

    [Fact]
    public void Alerts_approvals_and_expectations_are_checked_field_by_field()
    {
        var problems = Problems("""
            drill: fields
            runbook: two-steps
            alerts:
              - { labels: { instance: web-1 }, source: nagios, fired: 5m, received: 1m }
            approvals:
              - { step: approve, approve: bob, reject: user:carol }
              - { approve: bob }
            expect: { outcome: succeeded, mttr: "<= soon" }
            """);

        Assert.Contains("d.drill.yaml:4:5: an alert needs a name: 'name: DiskFull' or an 'alertname' label", problems);
        Assert.Contains(problems, p => p.StartsWith("d.drill.yaml:4:44: unknown alert source 'nagios'", StringComparison.Ordinal));
        Assert.Contains("d.drill.yaml:4:73: 'received' (1m) is before 'fired' (5m): an alert reaches the engine after it fires", problems);
        Assert.Contains("d.drill.yaml:6:5: an approval has both 'approve' and 'reject'", problems);
        Assert.Contains("d.drill.yaml:7:16: who decides is kind:name, e.g. user:bob", problems);
        Assert.Contains("d.drill.yaml:8:20: 'outcome' must be completed, failed, cancelled, blocked", problems);
        Assert.Contains("d.drill.yaml:8:37: 'mttr' must be a duration like 15m (or <= 15m)", problems);
    }

    [Fact]
    public void A_drill_is_checked_against_its_runbook_steps_and_inputs()
    {
        host.Runbook("two-steps.yaml", Runbook);
        var path = host.Drill("check.drill.yaml", """
            drill: check
            runbook: two-steps
            run: { inputs: { pth: /var/log } }
            steps:
              frist: { respond: {} }
            expect: { steps_run: [second, thrid] }
            """);

        var loaded = host.Load(path);

        Assert.False(loaded.Valid);
        var problems = loaded.Diagnostics.Select(d => d.ToString()).ToList();
        Assert.Contains(problems, p => p.EndsWith("check.drill.yaml:5:3: steps: 'frist': runbook 'two-steps' has no step 'frist' (did you mean 'first'?); its steps: first, second", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.EndsWith("check.drill.yaml:6:31: expected step 'thrid': runbook 'two-steps' has no step 'thrid'; its steps: first, second", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("check.drill.yaml:3:6: run.inputs: runbook 'two-steps' has no input 'pth'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_runbook_that_cannot_be_found_or_is_invalid_is_named_with_its_own_problems()
    {
        var missing = host.Load(host.Drill("missing.drill.yaml", "drill: m\nrunbook: nope\nrun: {}\nexpect: { outcome: completed }\n"));
        Assert.Contains(missing.Diagnostics, d => d.ToString().Contains("missing.drill.yaml:2:10: no runbook named 'nope'", StringComparison.Ordinal));

        host.Runbook("bad.yaml", "name: bad\nsteps:\n  - id: a\n    action: nosuch\n");
        var invalid = host.Load(host.Drill("bad.drill.yaml", "drill: b\nrunbook: bad\nrun: {}\nexpect: { outcome: completed }\n"));
        Assert.False(invalid.Valid);
        Assert.Contains(invalid.Diagnostics, d => d.ToString().Contains("bad.drill.yaml:2:10: runbook", StringComparison.Ordinal) && d.Message.Contains("is invalid", StringComparison.Ordinal));
        Assert.Contains(invalid.Diagnostics, d => d.Location.File.EndsWith("bad.yaml", StringComparison.Ordinal) && d.Location.Line == 4);
    }
}
