using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests;

public sealed class CompensateTests : IAsyncLifetime
{
    private RunbookTestHost host = null!;

    public async Task InitializeAsync() => host = await RunbookTestHost.CreateAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private string Log => Path.Combine(host.Directory, "log");

    private string Saga(string third = "echo three >> \"$LOG\"; exit 1", string onFailure = "abort") => $$$"""
        name: saga
        inputs:
          log: { type: string }
        steps:
          - id: one
            action: shell
            with: { command: "echo one >> \"$LOG\"; printf 5", env: { LOG: "${{ inputs.log }}" } }
            compensate:
              action: shell
              with: { command: "echo undo-one-from-${{ result.stdout }} >> \"$LOG\"", env: { LOG: "${{ inputs.log }}" } }
          - id: two
            action: shell
            with: { command: "echo two >> \"$LOG\"", env: { LOG: "${{ inputs.log }}" } }
            compensate:
              action: shell
              with: { command: "echo cannot-undo-two >&2; exit 4" }
          - id: not-run
            when: "${{ false }}"
            action: shell
            with: { command: "echo not-run >> \"$LOG\"" }
            compensate:
              action: shell
              with: { command: "echo undo-not-run >> \"$LOG\"" }
          - id: three
            action: shell
            with: { command: {{{System.Text.Json.JsonSerializer.Serialize(third)}}}, env: { LOG: "${{ inputs.log }}" } }
            on_failure: {{{onFailure}}}
        """;

    [Fact]
    public async Task A_failed_run_undoes_the_steps_that_succeeded_newest_first_and_records_each_outcome()
    {
        var runId = await host.StartAsync(Saga(), new JsonObject { ["log"] = Log });
        await host.DrainAsync();

        var run = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("ExitCode", run.ErrorKind); // the run fails with what failed it, not with a compensation's error
        Assert.Equal(["one", "two", "three", "undo-one-from-5"], await File.ReadAllLinesAsync(Log));

        var timeline = await host.TimelineAsync(runId);
        var started = JsonNode.Parse(timeline.Single(e => e.Kind == "compensation.started").Data!)!;
        Assert.Equal("three", started["failed_step"]!.GetValue<string>());
        Assert.Equal(["two", "one"], started["steps"]!.AsArray().Select(s => s!.GetValue<string>()));
        var failed = JsonNode.Parse(timeline.Single(e => e.Kind == "compensation.failed").Data!)!;
        Assert.Equal(("two", "ExitCode"), (failed["step"]!.GetValue<string>(), failed["error_kind"]!.GetValue<string>()));
        Assert.Contains("cannot-undo-two", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("one", JsonNode.Parse(timeline.Single(e => e.Kind == "compensation.succeeded").Data!)!["step"]!.GetValue<string>());
        Assert.Equal("""{"compensated":1,"failed":1}""", timeline.Single(e => e.Kind == "compensation.finished").Data);
        var order = timeline.Select(e => e.Kind).Where(k => k.StartsWith("compensation.", StringComparison.Ordinal)).ToList();
        Assert.Equal(["compensation.started", "compensation.failed", "compensation.succeeded", "compensation.finished"], order);

        // Each compensation is a durable step of its own, so replay answers it from history.
        var steps = (await host.HistoryAsync(runId)).Steps.Select(s => s.Name).ToList();
        Assert.Contains("two/compensate", steps);
        Assert.Contains("one/compensate", steps);
    }

    [Fact]
    public async Task Nothing_is_undone_when_the_run_succeeds_or_a_failure_is_handled()
    {
        var ok = await host.StartAsync(Saga(third: "echo three >> \"$LOG\""), new JsonObject { ["log"] = Log });
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(ok)).Status);

        var handled = await host.StartAsync(Saga(onFailure: "continue"), new JsonObject { ["log"] = Log });
        await host.DrainAsync();
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(handled)).Status);

        Assert.DoesNotContain(await File.ReadAllLinesAsync(Log), l => l.StartsWith("undo", StringComparison.Ordinal));
        Assert.DoesNotContain((await host.TimelineAsync(handled)).Select(e => e.Kind), k => k.StartsWith("compensation.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_dry_run_plans_each_compensation_with_its_step_and_runs_nothing()
    {
        var runId = await host.StartAsync(Saga(), new JsonObject { ["log"] = Log }, dryRun: true);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(runId)).Status);
        Assert.False(File.Exists(Log));
        var plan = Service.LocalRunbookService.Plan(await host.HistoryAsync(runId)).Select(p => $"{p.Step}: {p.Plan}").ToList();
        Assert.Contains("one/compensate: would run: echo undo-one-from-${{ result.stdout }} >> \"$LOG\" with env LOG", plan);
        Assert.Contains("one: if a later step fails: would undo it with shell", plan);
        Assert.Equal(2, (await host.TimelineAsync(runId)).Count(e => e.Kind == "compensation.planned"));
    }

    private string Cancellable(string compensateOn) => $$$"""
        name: saga-cancel
        {{{compensateOn}}}
        inputs:
          log: { type: string }
          mark: { type: string }
        steps:
          - id: one
            action: shell
            with: { command: "echo one >> \"$LOG\"", env: { LOG: "${{ inputs.log }}" } }
            compensate:
              action: shell
              with:
                command: "if [ -f \"$MARK\" ]; then echo undo-one >> \"$LOG\"; else touch \"$MARK\"; exit 1; fi"
                env: { LOG: "${{ inputs.log }}", MARK: "${{ inputs.mark }}" }
              retry: { max_attempts: 2, initial_interval: 30s }
          - id: pause
            sleep: 1h
          - id: after
            action: shell
            with: { command: "echo after >> \"$LOG\"", env: { LOG: "${{ inputs.log }}" } }
        """;

    [Fact]
    public async Task With_compensate_on_cancel_a_cancelled_run_undoes_what_it_did_even_across_a_retry_back_off_and_ends_cancelled()
    {
        var runId = await host.StartAsync(Cancellable("compensate_on: [failure, cancel]"), new JsonObject { ["log"] = Log, ["mark"] = Log + ".mark" });
        await host.DrainAsync();
        Assert.Equal(RunStatus.Waiting, (await host.RunAsync(runId)).Status); // in the 1h sleep

        Assert.Equal(RunbookEngine.Workflows.Storage.CancelOutcome.Requested, await host.Store.RequestCancelAsync(runId, "user:bob", "wrong host", host.Time.GetUtcNow(), CancellationToken.None));
        await host.DrainAsync();

        // The compensation's first attempt failed: the cancelled run waits out its back-off instead of ending.
        var waiting = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Waiting, waiting.Status);
        Assert.Equal(["one"], await File.ReadAllLinesAsync(Log));
        host.Time.Advance(TimeSpan.FromSeconds(30));
        await host.DrainAsync();

        var run = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Cancelled, run.Status);
        Assert.Equal("wrong host", run.ErrorMessage);
        Assert.Equal(["one", "undo-one"], await File.ReadAllLinesAsync(Log));
        var timeline = await host.TimelineAsync(runId);
        var started = JsonNode.Parse(timeline.Single(e => e.Kind == "compensation.started").Data!)!;
        Assert.Equal(("cancel", "Cancelled"), (started["reason"]!.GetValue<string>(), started["error_kind"]!.GetValue<string>()));
        Assert.Equal(["one"], started["steps"]!.AsArray().Select(s => s!.GetValue<string>()));
        var kinds = timeline.Select(e => e.Kind).ToList();
        Assert.True(kinds.IndexOf("run.cancel_requested") < kinds.IndexOf("compensation.started"));
        Assert.True(kinds.IndexOf("compensation.succeeded") < kinds.IndexOf("run.cancelled"));
        Assert.Equal("run.cancelled", kinds[^1]);
        Assert.Null(RunbookEngine.Workflows.Storage.TimelineChain.Verify(timeline));
    }

    [Fact]
    public async Task By_default_a_cancelled_run_is_not_compensated()
    {
        var runId = await host.StartAsync(Cancellable(string.Empty), new JsonObject { ["log"] = Log, ["mark"] = Log + ".mark" });
        await host.DrainAsync();
        await host.Store.RequestCancelAsync(runId, "user:bob", null, host.Time.GetUtcNow(), CancellationToken.None);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Cancelled, (await host.RunAsync(runId)).Status);
        Assert.Equal(["one"], await File.ReadAllLinesAsync(Log));
        Assert.DoesNotContain((await host.TimelineAsync(runId)).Select(e => e.Kind), k => k.StartsWith("compensation.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_compensate_on_cancel_only_a_failed_run_is_not_compensated()
    {
        var runId = await host.StartAsync(Saga().Replace("name: saga\n", "name: saga\ncompensate_on: [cancel]\n", StringComparison.Ordinal), new JsonObject { ["log"] = Log });
        await host.DrainAsync();

        Assert.Equal(RunStatus.Failed, (await host.RunAsync(runId)).Status);
        Assert.Equal(["one", "two", "three"], await File.ReadAllLinesAsync(Log));
    }

    [Fact]
    public void Compensate_on_is_checked_where_it_is_written()
    {
        var (runbook, problems) = RunbookLibrary.Parse(host.Actions, "bad.yaml", """
            name: bad
            compensate_on: [failure, later, failure]
            steps:
              - id: a
                action: log
                with: { message: hi }
            """);
        Assert.Null(runbook);
        var text = string.Join('\n', problems);
        Assert.Contains("bad.yaml:2:26: unknown compensate_on 'later': 'compensate_on' is a list of when to undo the steps that succeeded: failure, cancel (e.g. compensate_on: [failure, cancel]; [] never)", text, StringComparison.Ordinal);
        Assert.Contains("bad.yaml:2:33: compensate_on names 'failure' twice", text, StringComparison.Ordinal);

        var (scalar, scalarProblems) = RunbookLibrary.Parse(host.Actions, "bad.yaml", "name: bad\ncompensate_on: cancel\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n");
        Assert.Null(scalar);
        Assert.Contains("bad.yaml:2:16: 'compensate_on' is a list", string.Join('\n', scalarProblems), StringComparison.Ordinal);

        var (never, _) = RunbookLibrary.Parse(host.Actions, "ok.yaml", "name: ok\ncompensate_on: []\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n");
        Assert.Equal(RunbookEngine.Runbooks.Model.CompensateOn.Never, never!.CompensateOn);
    }

    [Fact]
    public void Validation_names_a_misplaced_or_malformed_compensate_at_its_line()
    {
        var (runbook, problems) = RunbookLibrary.Parse(host.Actions, "bad.yaml", """
            name: bad
            steps:
              - id: ask
                approval: { approvers: [alice] }
                compensate: { action: log, with: { message: x } }
              - id: a
                action: log
                with: { message: hi }
                compensate: { action: lgo, with: { message: x } }
              - id: b
                action: log
                with: { message: hi }
                compensate: { action: log, with: { message: x }, condition: y }
              - id: c
                action: log
                with: { message: hi }
                compensate: { action: log, with: { text: x } }
            """);

        Assert.Null(runbook);
        var text = string.Join('\n', problems);
        Assert.Contains("bad.yaml:5:17: step 'ask': 'compensate' undoes what an action changed; the step has no action", text, StringComparison.Ordinal);
        Assert.Contains("bad.yaml:9:27: step 'a': unknown action 'lgo' in compensate (did you mean 'log'?)", text, StringComparison.Ordinal);
        Assert.Contains("bad.yaml:13:54: unknown key 'condition' in the compensate of step 'b'", text, StringComparison.Ordinal);
        Assert.Contains("bad.yaml:17:40: the compensate of step 'c': action 'log' has no input 'text'; it takes message, level", text, StringComparison.Ordinal);
    }
}
