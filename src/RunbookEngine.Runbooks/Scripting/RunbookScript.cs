using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Scripting;

/// <summary>
/// What a C# script runbook's code sees: its inputs and outputs, the built-in actions as typed helpers, custom
/// code as checkpointed steps, approvals, durable sleeps and polling, and the run's deterministic clock and
/// random numbers. Every method that takes an <c>id</c> is one durable step of the run, recorded in its timeline
/// exactly as the YAML step of the same kind; replay answers it from history.
/// </summary>
/// <remarks>
/// Await each call before the next: a run is a sequence. Code between steps runs again on every replay, so it
/// must be deterministic; the compiler refuses the clock, random numbers, sleeps, threads and I/O outside a step
/// and names the alternative here.
/// </remarks>
// Workflow code: every await keeps its continuation on the engine's scheduler (ConfigureAwait(true)), since
// Temporal runs workflows on a deterministic scheduler of its own and a continuation on the thread pool would
// leave it; on the kernel there is no context, so it costs nothing.
#pragma warning disable VSTHRD200 // The script API reads as the runbook's own verbs: `await Shell(...)`, `await Step(...)`.
public sealed class RunbookScript
{
    private static readonly JsonSerializerOptions AsWritten = new();

    private readonly IWorkflowContext ctx;
    private readonly Runbook runbook;
    private readonly ActionCatalog actions;
    private readonly RunbookRunInput input;
    private readonly DrillScript? script;
    private readonly RunGate? gate;
    private readonly JsonObject outputs = [];
    private readonly Dictionary<string, int> visits = new(StringComparer.Ordinal);
    private string scope = string.Empty;
    private bool reachedRetryStep;

    internal RunbookScript(IWorkflowContext ctx, Runbook runbook, ActionCatalog actions)
    {
        this.ctx = ctx;
        this.runbook = runbook;
        this.actions = actions;
        input = RunbookRunInput.FromJson(ctx.Input);
        gate = RunGate.FromJson(input.Gate);
        script = DrillScript.From(input.Script);
        reachedRetryStep = input.FromStep is null;
    }

    /// <summary>Gets the run id.</summary>
    public string RunId => ctx.RunId;

    /// <summary>Gets who started the run (<c>user:alice</c>, <c>alert:alertmanager/DiskFull</c>).</summary>
    public string StartedBy => ctx.StartedBy;

    /// <summary>Gets the runbook's name.</summary>
    public string RunbookName => runbook.Name;

    /// <summary>Gets a value indicating whether this is a dry-run: actions only plan, custom steps do not run, and their results are empty (<c>Planned</c>).</summary>
    public bool DryRun => input.DryRun;

    /// <summary>Gets the run's clock: the same on every replay (use it instead of <c>DateTime.UtcNow</c>).</summary>
    public DateTimeOffset Now => ctx.UtcNow;

    /// <summary>Gets random numbers seeded from the run id: the same on every replay (use it instead of <c>new Random()</c>).</summary>
    public Random Random => ctx.Random;

    /// <summary>Gets the token cancelled when someone cancels the run.</summary>
    public CancellationToken CancellationToken => ctx.CancellationToken;

    /// <summary>Gets the run's inputs (secret inputs hold their <c>secret://</c> reference, never the value).</summary>
    public JsonObject Inputs => (JsonObject)input.Inputs.DeepClone();

    /// <summary>Returns a new id, the same on every replay (use it instead of <c>Guid.NewGuid()</c>).</summary>
    /// <returns>The id.</returns>
    public Guid NewGuid() => ctx.NewGuid();

    /// <summary>Reads an input declared in the metadata block.</summary>
    /// <typeparam name="T">string, double, int, long, bool, or a list such as <c>string[]</c>.</typeparam>
    /// <param name="name">The input's name.</param>
    /// <returns>Its value (its default when not given).</returns>
    public T Input<T>(string name)
    {
        if (runbook.Inputs.All(i => i.Name != name))
        {
            throw new StepException("UnknownInput", $"input '{name}' is not declared in the metadata of {runbook.File}; declared: {string.Join(", ", runbook.Inputs.Select(i => i.Name))}", nonRetryable: true);
        }

        var value = input.Inputs[name];
        try
        {
            return value is null ? default! : value.Deserialize<T>(AsWritten)!;
        }
        catch (JsonException)
        {
            throw new StepException("InputType", $"input '{name}' is {value!.ToJsonString()}, which is not a {typeof(T).Name}", nonRetryable: true);
        }
    }

    /// <summary>Sets an output declared in the metadata block; the last value set is the run's output.</summary>
    /// <param name="name">The output's name.</param>
    /// <param name="value">Its value (anything that serializes to JSON).</param>
    public void Output(string name, object? value)
    {
        if (runbook.ScriptOutputs.All(o => o.Name != name))
        {
            throw new StepException("UnknownOutput", $"output '{name}' is not declared in the metadata of {runbook.File}; declared: {string.Join(", ", runbook.ScriptOutputs.Select(o => o.Name))}", nonRetryable: true);
        }

        outputs[name] = value is null ? null : JsonSerializer.SerializeToNode(value, AsWritten);
    }

    /// <summary>Runs a program with its arguments (no shell) as the <c>shell</c> action.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="command">The program and its arguments, e.g. <c>["systemctl", "restart", "nginx"]</c>.</param>
    /// <param name="env">Extra environment variables (values may be <c>secret://</c> references).</param>
    /// <param name="workingDirectory">The directory to run in.</param>
    /// <param name="stdin">Text written to standard input.</param>
    /// <param name="settings">Retries, timeouts, queue.</param>
    /// <returns>The result; a non-zero exit code fails the step.</returns>
    public Task<ShellResult> Shell(string id, string[] command, IReadOnlyDictionary<string, string>? env = null, string? workingDirectory = null, string? stdin = null, StepSettings? settings = null) =>
        ShellAsync(id, new JsonArray([.. (command ?? []).Select(c => JsonValue.Create(c))]), env, workingDirectory, stdin, settings);

    /// <summary>Runs a command line through <c>bash -c</c> as the <c>shell</c> action.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="command">The command line.</param>
    /// <param name="env">Extra environment variables (values may be <c>secret://</c> references).</param>
    /// <param name="workingDirectory">The directory to run in.</param>
    /// <param name="stdin">Text written to standard input.</param>
    /// <param name="settings">Retries, timeouts, queue.</param>
    /// <returns>The result; a non-zero exit code fails the step.</returns>
    public Task<ShellResult> Shell(string id, string command, IReadOnlyDictionary<string, string>? env = null, string? workingDirectory = null, string? stdin = null, StepSettings? settings = null) =>
        ShellAsync(id, JsonValue.Create(command), env, workingDirectory, stdin, settings);

    /// <summary>
    /// Runs a PowerShell script in the worker's process as the <c>powershell</c> action (the worker must serve it:
    /// the <c>runbook</c> CLI's workers do). Values reach the script as typed parameters, never pasted into its text.
    /// </summary>
    /// <param name="id">The step id.</param>
    /// <param name="script">The script; its <c>param()</c> block declares the parameters.</param>
    /// <param name="parameters">Named parameters (an anonymous object or a dictionary; values may be <c>secret://</c> references).</param>
    /// <param name="settings">Retries, timeouts, queue.</param>
    /// <returns>The result: <c>output</c> (the objects written, as JSON), <c>value</c> (the last), and the streams.</returns>
    public Task<JsonObject> PowerShell(string id, string script, object? parameters = null, StepSettings? settings = null)
    {
        var with = new JsonObject { ["script"] = script };
        if (parameters is not null)
        {
            with["parameters"] = JsonSerializer.SerializeToNode(parameters, AsWritten);
        }

        return Action(id, "powershell", with, settings);
    }

    /// <summary>Sends an HTTP request as the <c>http</c> action.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="url">The absolute URL.</param>
    /// <param name="method">GET, HEAD, POST, PUT, PATCH or DELETE.</param>
    /// <param name="body">A string sent as is, or an object sent as JSON.</param>
    /// <param name="headers">Request headers (values may be <c>secret://</c> references).</param>
    /// <param name="expectStatus">The statuses that count as success; default any 2xx.</param>
    /// <param name="settings">Retries, timeouts, queue.</param>
    /// <returns>The result; an unexpected status fails the step.</returns>
    public async Task<HttpResult> Http(string id, string url, string method = "GET", object? body = null, IReadOnlyDictionary<string, string>? headers = null, int[]? expectStatus = null, StepSettings? settings = null)
    {
        var with = new JsonObject { ["url"] = url, ["method"] = method };
        if (body is not null)
        {
            with["body"] = body is string text ? JsonValue.Create(text) : JsonSerializer.SerializeToNode(body, AsWritten);
        }

        if (headers is not null)
        {
            with["headers"] = Map(headers);
        }

        if (expectStatus is not null)
        {
            with["expect_status"] = new JsonArray([.. expectStatus.Select(s => JsonValue.Create(s))]);
        }

        return new HttpResult(await RunActionAsync(id, "http", with, settings).ConfigureAwait(true));
    }

    /// <summary>Records a message in the run's timeline and the worker's log, as the <c>log</c> action.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="message">The message.</param>
    /// <param name="level">info, warning or error.</param>
    /// <returns>A task.</returns>
    public async Task Log(string id, string message, string level = "info") =>
        await RunActionAsync(id, "log", new JsonObject { ["message"] = message, ["level"] = level }, null).ConfigureAwait(true);

    /// <summary>Runs any action by name, with the same inputs as under a YAML step's <c>with:</c>.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="action">The action's name (<c>runbook actions</c> lists them).</param>
    /// <param name="with">Its inputs: an anonymous object (<c>new { url = "...", method = "POST" }</c>), a dictionary or a <see cref="JsonObject"/>.</param>
    /// <param name="settings">Retries, timeouts, queue.</param>
    /// <returns>The action's result object (empty in a dry-run).</returns>
    public async Task<JsonObject> Action(string id, string action, object? with = null, StepSettings? settings = null)
    {
        var node = with switch
        {
            null => new JsonObject(),
            JsonObject o => (JsonObject)o.DeepClone(),
            _ => JsonSerializer.SerializeToNode(with, AsWritten) as JsonObject
                ?? throw new StepException("InvalidInput", $"step '{id}': the inputs of action '{action}' must be an object", nonRetryable: true),
        };
        return await RunActionAsync(id, action, node, settings).ConfigureAwait(true) as JsonObject ?? [];
    }

    /// <summary>Runs custom code as a checkpointed step: it runs once, its result is recorded, and replay returns the record.</summary>
    /// <typeparam name="T">The result type; it must round-trip through JSON.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="body">The code. Anything may happen in it (the clock, files); in a dry-run it does not run.</param>
    /// <param name="settings">Retries and timeouts.</param>
    /// <returns>The result (default in a dry-run).</returns>
    public async Task<T> Step<T>(string id, Func<Task<T>> body, StepSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        var position = Position(id);
        if (await ReusedAsync(id, position).ConfigureAwait(true) is { } reused)
        {
            return reused.Value is null ? default! : reused.Value.Deserialize<T>(WorkflowJson.Options)!;
        }

        if (DryRun)
        {
            await ctx.RecordAsync(position, "code.planned", new JsonObject { ["step"] = id, ["summary"] = $"would run the custom code of step '{id}'" }).ConfigureAwait(true);
            return default!;
        }

        return await ctx.StepAsync(position, _ => body(), OptionsOf(settings)).ConfigureAwait(true);
    }

    /// <summary>Runs custom code that returns nothing as a checkpointed step.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="body">The code; in a dry-run it does not run.</param>
    /// <param name="settings">Retries and timeouts.</param>
    /// <returns>A task.</returns>
    public Task Step(string id, Func<Task> body, StepSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Step<bool>(
            id,
            async () =>
            {
                await body().ConfigureAwait(true);
                return true;
            },
            settings);
    }

    /// <summary>Runs synchronous custom code that returns nothing as a checkpointed step.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="body">The code; in a dry-run it does not run.</param>
    /// <param name="settings">Retries and timeouts.</param>
    /// <returns>A task.</returns>
    public Task Step(string id, Action body, StepSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Step<bool>(
            id,
            () =>
            {
                body();
                return Task.FromResult(true);
            },
            settings);
    }

    /// <summary>Runs synchronous custom code as a checkpointed step.</summary>
    /// <typeparam name="T">The result type; it must round-trip through JSON.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="body">The code; in a dry-run it does not run.</param>
    /// <param name="settings">Retries and timeouts.</param>
    /// <returns>The result (default in a dry-run).</returns>
    public Task<T> Step<T>(string id, Func<T> body, StepSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Step(id, () => Task.FromResult(body()), settings);
    }

    /// <summary>Waits for approval, exactly as a YAML <c>approval:</c> step (who may approve, four-eyes, timeout).</summary>
    /// <param name="id">The step id; <c>runbook approve RUN --step ID</c> decides it.</param>
    /// <param name="approvers">Users (<c>alice</c>) or groups (<c>group:sre-oncall</c>).</param>
    /// <param name="message">What the approver is asked.</param>
    /// <param name="min">How many distinct approvals are needed.</param>
    /// <param name="timeout">How long to wait; null waits indefinitely.</param>
    /// <param name="approveOnTimeout">Whether no decision within the timeout approves (default: it rejects).</param>
    /// <param name="fourEyes">Whether the person who started the run is refused as approver.</param>
    /// <returns>A task; a rejection or timeout fails the run.</returns>
    public async Task Approval(string id, string[] approvers, string? message = null, int min = 1, TimeSpan? timeout = null, bool approveOnTimeout = false, bool fourEyes = true)
    {
        if (approvers is null || approvers.Length == 0 || min < 1 || min > approvers.Length && approvers.All(a => !a.StartsWith("group:", StringComparison.Ordinal)))
        {
            throw new StepException("InvalidInput", $"approval '{id}' needs at least one approver and a min from 1 to the number of approvers", nonRetryable: true);
        }

        var position = Position(id);
        if (await ReusedAsync(id, position).ConfigureAwait(true) is not null)
        {
            return;
        }

        var spec = new ApprovalSpec(approvers, min, timeout, approveOnTimeout ? "approve" : "reject", fourEyes, null);
        await StepOperations.ApproveAsync(ctx, spec, message, id, position, DryRun).ConfigureAwait(true);
        gate?.Pass();
    }

    /// <summary>Sleeps on a durable timer: the run holds no thread and survives restarts.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="duration">How long.</param>
    /// <returns>A task.</returns>
    public async Task Sleep(string id, TimeSpan duration)
    {
        var position = Position(id);
        if (await ReusedAsync(id, position).ConfigureAwait(true) is null)
        {
            await StepOperations.SleepAsync(ctx, duration, id, position, DryRun).ConfigureAwait(true);
        }
    }

    /// <summary>
    /// Polls until a condition holds, as a YAML <c>wait_until</c>: each poll's steps are recorded under
    /// <c>ID/poll#N/</c>, with durable sleeps in between; the step fails when the timeout passes first.
    /// </summary>
    /// <typeparam name="T">What a poll returns.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="poll">One poll: usually one action, e.g. <c>() => Http("probe", url)</c>.</param>
    /// <param name="until">The condition on a poll's result.</param>
    /// <param name="interval">The pause between polls.</param>
    /// <param name="timeout">How long to keep polling.</param>
    /// <returns>The result of the poll that met the condition (of the single planned poll in a dry-run).</returns>
    public Task<T> WaitUntil<T>(string id, Func<Task<T>> poll, Func<T, bool> until, TimeSpan interval, TimeSpan timeout) =>
        PollAsync(id, poll, until, interval, timeout, verify: false);

    /// <summary>
    /// Checks that what the script just did had its effect, as a YAML step's <c>verify:</c>: polls like
    /// <see cref="WaitUntil{T}"/>, records <c>verify.passed</c> with the number of polls, or <c>verify.failed</c>
    /// and fails with <c>VerifyFailed</c> when the condition does not hold in time.
    /// </summary>
    /// <typeparam name="T">What a poll returns.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="poll">One poll, e.g. <c>() => Action("disk", "prometheus", new { query })</c>.</param>
    /// <param name="holds">The condition that must hold.</param>
    /// <param name="interval">The pause between polls.</param>
    /// <param name="timeout">How long it may take to hold.</param>
    /// <returns>The result of the poll that passed (of the single planned poll in a dry-run).</returns>
    public Task<T> Verify<T>(string id, Func<Task<T>> poll, Func<T, bool> holds, TimeSpan interval, TimeSpan timeout) =>
        PollAsync(id, poll, holds, interval, timeout, verify: true);

    /// <summary>The run's outputs: every declared output, null when the script did not set it.</summary>
    internal JsonObject OutputsJson()
    {
        var result = new JsonObject();
        foreach (var declared in runbook.ScriptOutputs)
        {
            result[declared.Name] = outputs[declared.Name]?.DeepClone();
        }

        return result;
    }

    private async Task<T> PollAsync<T>(string id, Func<Task<T>> poll, Func<T, bool> until, TimeSpan interval, TimeSpan timeout, bool verify)
    {
        ArgumentNullException.ThrowIfNull(poll);
        ArgumentNullException.ThrowIfNull(until);
        var position = Position(id);
        var outer = scope;
        var deadline = ctx.UtcNow + timeout;
        var summary = $"poll every {Durations.Format(interval)} for up to {Durations.Format(timeout)} until the condition holds";
        try
        {
            for (var k = 1; ; k++)
            {
                scope = $"{position}/poll#{k}/";
                var result = await poll().ConfigureAwait(true);
                scope = outer;
                if (DryRun)
                {
                    await ctx.RecordAsync(position + (verify ? "/verify-planned" : "/until"), verify ? "verify.planned" : "wait.planned", new JsonObject { ["step"] = id, ["summary"] = $"would {summary}" }).ConfigureAwait(true);
                    return result;
                }

                if (until(result))
                {
                    if (verify)
                    {
                        var replayed = ctx.IsReplaying;
                        await ctx.RecordAsync(position + "/verified", "verify.passed", new JsonObject { ["step"] = id, ["polls"] = k }).ConfigureAwait(true);
                        Telemetry.SinceAlert(Telemetry.TimeToRecovery, ctx, input, runbook.Name, replayed);
                    }

                    return result;
                }

                if (ctx.UtcNow + interval > deadline)
                {
                    var message = $"the condition of '{id}' did not hold within {Durations.Format(timeout)} ({k} polls)";
                    if (verify)
                    {
                        await ctx.RecordAsync(position + "/verify-failed", "verify.failed", new JsonObject { ["step"] = id, ["polls"] = k, ["error"] = message }).ConfigureAwait(true);
                    }

                    throw new StepFailedException(id, 0, verify ? "VerifyFailed" : "WaitTimedOut", message, k);
                }

                await ctx.DelayAsync(interval, $"{position}/interval#{k}").ConfigureAwait(true);
            }
        }
        finally
        {
            scope = outer;
        }
    }

    private static JsonObject Map(IReadOnlyDictionary<string, string> map) =>
        new(map.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));

    private static StepOptions OptionsOf(StepSettings? s) => s is null
        ? StepOperations.OptionsOf(null, null, null)
        : StepOperations.OptionsOf(s.MaxAttempts > 1 ? new RetrySpec(s.MaxAttempts, s.InitialInterval, s.Backoff, s.MaxInterval, s.NonRetryable) : null, s.Timeout, s.TotalTimeout);

    private async Task<ShellResult> ShellAsync(string id, JsonNode command, IReadOnlyDictionary<string, string>? env, string? workingDirectory, string? stdin, StepSettings? settings)
    {
        var with = new JsonObject { ["command"] = command };
        if (env is not null)
        {
            with["env"] = Map(env);
        }

        if (workingDirectory is not null)
        {
            with["working_directory"] = workingDirectory;
        }

        if (stdin is not null)
        {
            with["stdin"] = stdin;
        }

        return new ShellResult(await RunActionAsync(id, "shell", with, settings).ConfigureAwait(true));
    }

    private async Task<JsonNode?> RunActionAsync(string id, string name, JsonObject with, StepSettings? settings)
    {
        var position = Position(id);
        if (await ReusedAsync(id, position).ConfigureAwait(true) is { } reused)
        {
            return reused.Value;
        }

        if (!actions.TryGet(name, out var action))
        {
            throw new StepFailedException(id, 0, "UnknownAction", $"step '{id}': action '{name}' is not available in this worker; actions: {string.Join(", ", actions.All.Select(a => a.Name))}", 0);
        }

        if (ActionInputs.Problem(action, with) is { } problem)
        {
            throw new StepFailedException(id, 0, "InvalidInput", $"step '{id}': {problem}", 0);
        }

        return await StepOperations.ActionAsync(ctx, action, with, id, position, DryRun, OptionsOf(settings), settings?.Queue, gate, script).ConfigureAwait(true);
    }

    /// <summary>The position of the next step with this id: the id, then <c>id#2</c>, <c>id#3</c> for repeats (loops).</summary>
    private string Position(string id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Contains('/', StringComparison.Ordinal) || id.Contains('#', StringComparison.Ordinal))
        {
            throw new StepException("InvalidStepId", $"step id '{id}' must be non-empty and contain neither '/' nor '#'", nonRetryable: true);
        }

        var key = scope + id;
        var visit = visits[key] = visits.GetValueOrDefault(key) + 1;
        return visit == 1 ? key : key + "#" + visit.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// In a retry with <c>--from-step</c>: the recorded result of a step the retried run completed before that step,
    /// recorded as reused instead of being run again; null for every step from the named one on.
    /// </summary>
    private async Task<StrongBoxed?> ReusedAsync(string id, string position)
    {
        if (reachedRetryStep || scope.Length > 0)
        {
            return null;
        }

        if (position == input.FromStep)
        {
            reachedRetryStep = true;
            return null;
        }

        if (input.Prior?[position] is not JsonObject prior)
        {
            return null;
        }

        var status = prior["status"]?.GetValue<string>() ?? "succeeded";
        await ctx.RecordAsync(position, "step.reused", new JsonObject { ["step"] = id, ["from_run"] = input.RetryOf, ["status"] = status }).ConfigureAwait(true);
        return new StrongBoxed(prior["result"]?.DeepClone());
    }

    private sealed record StrongBoxed(JsonNode? Value);
}
#pragma warning restore VSTHRD200
