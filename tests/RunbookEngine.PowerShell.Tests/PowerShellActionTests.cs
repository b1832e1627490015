using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Workflows;

namespace RunbookEngine.PowerShell.Tests;

/// <summary>Real scripts through the real PowerShell SDK, in this process.</summary>
public sealed class PowerShellActionTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "runbook-ps-tests", Guid.NewGuid().ToString("N"));
    private readonly RunspacePool pool = new(2);
    private readonly PowerShellAction action;

    public PowerShellActionTests()
    {
        Directory.CreateDirectory(dir);
        action = new PowerShellAction(pool);
    }

    public void Dispose()
    {
        pool.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Parameters_bind_as_typed_values_and_objects_come_out_as_json()
    {
        var result = await ExecuteAsync(new JsonObject
        {
            ["script"] = "param([string]$Name, [int]$Times, [string[]]$Tags, [hashtable]$Extra, [switch]$Loud)\n1..$Times | ForEach-Object { [pscustomobject]@{ greeting = \"hello $Name\"; n = $_; tags = $Tags; color = $Extra.color; loud = [bool]$Loud; type = $Times.GetType().Name } }",
            ["parameters"] = new JsonObject { ["Name"] = "web-1", ["Times"] = "2", ["Tags"] = new JsonArray("a", "b"), ["Extra"] = new JsonObject { ["color"] = "red" }, ["Loud"] = true },
        });

        var output = result["output"]!.AsArray();
        Assert.Equal(2, output.Count);
        Assert.Equal("hello web-1", output[0]!["greeting"]!.GetValue<string>());
        Assert.Equal(2, output[1]!["n"]!.GetValue<int>());
        Assert.Equal(["a", "b"], output[0]!["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("red", output[0]!["color"]!.GetValue<string>());
        Assert.True(output[0]!["loud"]!.GetValue<bool>());
        Assert.Equal("Int32", output[0]!["type"]!.GetValue<string>());
        Assert.Equal(2, result["value"]!["n"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("$(Set-Content -Path MARKER -Value owned)")]
    [InlineData("'; Set-Content -Path MARKER -Value owned; '")]
    [InlineData("\"; Set-Content -Path MARKER -Value owned; \"")]
    [InlineData("`$(Set-Content -Path MARKER -Value owned)")]
    public async Task A_value_that_looks_like_code_stays_a_string(string template)
    {
        var marker = Path.Combine(dir, "owned.txt");
        var hostile = template.Replace("MARKER", marker, StringComparison.Ordinal);
        var result = await ExecuteAsync(new JsonObject
        {
            ["script"] = "param([string]$Label)\n\"label: $Label\"\nWrite-Output $Label",
            ["parameters"] = new JsonObject { ["Label"] = hostile },
        });

        Assert.False(File.Exists(marker), "a parameter value ran as code");
        Assert.Equal("label: " + hostile, result["output"]![0]!.GetValue<string>());
        Assert.Equal(hostile, result["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_stream_is_kept_in_the_result()
    {
        var result = await ExecuteAsync(new JsonObject
        {
            ["script"] = "Write-Warning 'disk at 91%'\nWrite-Verbose 'checking /var' -Verbose\nWrite-Information 'found 3 files'\nWrite-Host 'hosted line'\nWrite-Debug 'dbg' -Debug\nWrite-Error 'one file was locked'\n'done'",
            ["allow_errors"] = true,
        });

        Assert.Equal(["disk at 91%"], Texts(result["warnings"]));
        Assert.Equal(["checking /var"], Texts(result["verbose"]));
        Assert.Equal(["found 3 files", "hosted line"], Texts(result["information"]));
        Assert.Equal(["dbg"], Texts(result["debug"]));
        var error = Assert.Single(result["errors"]!.AsArray())!;
        Assert.Equal("one file was locked", error["message"]!.GetValue<string>());
        Assert.Equal("NotSpecified", error["category"]!.GetValue<string>());
        Assert.Equal(6, error["line"]!.GetValue<int>());
        Assert.Equal("done", result["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_non_terminating_error_fails_the_step_unless_it_allows_errors()
    {
        var with = new JsonObject { ["script"] = "Get-Item -Path /no/such/path\n'went on'" };
        var ex = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(with));
        Assert.Equal("PowerShellErrors", ex.Kind);
        Assert.Contains("wrote 1 error; the first: ObjectNotFound: Cannot find path '/no/such/path' because it does not exist. (script line 1, column 1)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("allow_errors: true", ex.Message, StringComparison.Ordinal);

        with["allow_errors"] = true;
        var result = await ExecuteAsync(with);
        Assert.Equal("went on", result["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_terminating_error_fails_the_attempt_with_its_category_message_and_line()
    {
        var ex = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = "'first'\n$ErrorActionPreference = 'Stop'\nthrow 'service nginx did not stop'" }));
        Assert.Equal("PowerShellError", ex.Kind);
        Assert.False(ex.NonRetryable);
        Assert.Equal("the script (inline, 3 lines) stopped with a terminating error: OperationStopped: service nginx did not stop (script line 3, column 1)", ex.Message);
    }

    [Fact]
    public async Task A_parameter_the_script_does_not_declare_is_a_clear_error_not_retried()
    {
        var ex = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = "param($Host1)\n$Host1", ["parameters"] = new JsonObject { ["Hots"] = "web-1" } }));
        Assert.Equal("InvalidInput", ex.Kind);
        Assert.True(ex.NonRetryable);
        Assert.Contains("Hots", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_script_that_asks_for_input_fails_at_once_instead_of_hanging()
    {
        var ex = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = "$answer = Read-Host 'Continue?'\n$answer" }).WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("runs unattended", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_plan_runs_the_script_under_WhatIf_and_changes_nothing()
    {
        var victim = Path.Combine(dir, "old.log");
        await File.WriteAllTextAsync(victim, "x");
        var with = new JsonObject
        {
            ["script"] = "[CmdletBinding(SupportsShouldProcess)]\nparam([string]$Path, [string]$Service)\nRemove-Item -Path $Path\nif ($PSCmdlet.ShouldProcess($Service, 'Restart service')) { Set-Content -Path \"$Path.restarted\" -Value yes }",
            ["parameters"] = new JsonObject { ["Path"] = victim, ["Service"] = "nginx" },
        };

        Assert.Equal(SideEffect.Mutating, action.Classify(with));
        var plan = await action.PlanAsync(Request(with), CancellationToken.None);

        Assert.True(File.Exists(victim), "the plan deleted the file");
        Assert.False(File.Exists(victim + ".restarted"), "the plan ran what ShouldProcess guards");
        Assert.Equal(SideEffect.Mutating, plan.SideEffect);
        Assert.Equal($"would run the PowerShell script (inline, 4 lines): Performing the operation \"Remove File\" on target \"{victim}\"; Performing the operation \"Restart service\" on target \"nginx\"", plan.Summary);
        Assert.Equal(2, plan.Details!["what_if"]!.AsArray().Count);
        Assert.True(plan.Details["previewable"]!.GetValue<bool>());

        // And the same script, run, does it.
        await ExecuteAsync(with);
        Assert.False(File.Exists(victim));
        Assert.True(File.Exists(victim + ".restarted"));
    }

    [Fact]
    public async Task A_script_without_ShouldProcess_is_not_run_by_its_plan_and_is_classed_destructive()
    {
        var marker = Path.Combine(dir, "ran.txt");
        var with = new JsonObject { ["script"] = "param($Path)\nSet-Content -Path $Path -Value ran", ["parameters"] = new JsonObject { ["Path"] = marker } };

        var plan = await action.PlanAsync(Request(with), CancellationToken.None);

        Assert.False(File.Exists(marker));
        Assert.Equal(SideEffect.Destructive, plan.SideEffect);
        Assert.Equal(SideEffect.Destructive, action.Classify(with));
        Assert.Contains("cannot be previewed: it does not declare [CmdletBinding(SupportsShouldProcess)]", plan.Summary, StringComparison.Ordinal);
        Assert.False(plan.Details!["previewable"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Cancelling_stops_the_running_pipeline_and_the_runspace_serves_the_next_step()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource();
        var running = action.ExecuteAsync(Request(new JsonObject { ["script"] = $"$c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', {port})\nStart-Sleep -Seconds 600\n'not reached'" }), cts.Token);

        // The script has started when it connects: cancel then, as a step timeout or a run's cancel does.
        using var connected = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.WaitAsync(TimeSpan.FromSeconds(60)));

        var next = await ExecuteAsync(new JsonObject { ["script"] = "'next step'" });
        Assert.Equal("next step", next["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task Constrained_language_refuses_Add_Type_and_full_language_allows_it()
    {
        var script = "Add-Type -TypeDefinition 'public static class RbTest { public static int Two() { return 2; } }'\n[RbTest]::Two()";
        var ex = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = script, ["language_mode"] = "constrained" }));
        Assert.Contains("not supported in this language mode", ex.Message, StringComparison.Ordinal);

        var full = await ExecuteAsync(new JsonObject { ["script"] = script });
        Assert.Equal(2, full["value"]!.GetValue<int>());
    }

    [Fact]
    public async Task Modules_are_imported_and_the_working_directory_is_the_scripts_location()
    {
        var modules = Path.Combine(dir, "modules");
        Directory.CreateDirectory(modules);
        await File.WriteAllTextAsync(Path.Combine(modules, "Ops.psm1"), "function Get-Greeting([string]$Who) { \"hi $Who\" }\nExport-ModuleMember -Function Get-Greeting");

        var result = await ExecuteAsync(new JsonObject
        {
            ["script"] = "Get-Greeting -Who ops\n(Get-Location).Path",
            ["modules"] = new JsonArray("modules/Ops.psm1"),
            ["working_directory"] = dir,
        });

        Assert.Equal("hi ops", result["output"]![0]!.GetValue<string>());
        Assert.Equal(dir, result["output"]![1]!.GetValue<string>());

        var missing = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = "1", ["modules"] = new JsonArray("nope/None.psm1"), ["working_directory"] = dir }));
        Assert.Equal("ModuleLoad", missing.Kind);
        Assert.True(missing.NonRetryable);

        var nowhere = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = "1", ["working_directory"] = Path.Combine(dir, "absent") }));
        Assert.Equal("InvalidInput", nowhere.Kind);
    }

    [Fact]
    public async Task An_execution_policy_is_accepted_by_name_and_a_wrong_one_is_refused()
    {
        // PowerShell has no execution policy off Windows: the setting opens its own runspace and the script runs.
        var result = await ExecuteAsync(new JsonObject { ["script"] = "'ran'", ["execution_policy"] = "remotesigned" });
        Assert.Equal("ran", result["value"]!.GetValue<string>());

        var ex = await Assert.ThrowsAsync<StepException>(() => ExecuteAsync(new JsonObject { ["script"] = "'ran'", ["execution_policy"] = "lax" }));
        Assert.Equal("InvalidInput", ex.Kind);
        Assert.Contains("'execution_policy' is one of Unrestricted, RemoteSigned", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scripts_variables_do_not_reach_the_next_step_on_the_same_runspace()
    {
        await ExecuteAsync(new JsonObject { ["script"] = "$leftover = 'from step one'\nSet-Location /" });
        var second = await ExecuteAsync(new JsonObject { ["script"] = "[pscustomobject]@{ leftover = $leftover; step = $RunbookStep.StepKey }" });
        Assert.Null(second["value"]!["leftover"]);
        Assert.Equal("run_1/3", second["value"]!["step"]!.GetValue<string>());
    }

    [Fact]
    public void Syntax_errors_are_found_with_PowerShells_parser_at_their_line_and_column()
    {
        var problems = action.CheckInput("script", "param($x)\nif ($x {\n  'y'\n}");
        Assert.Contains(problems, p => p is { Line: 2, Column: 8 } && p.Message.Contains("Unexpected token '{'", StringComparison.Ordinal));
        Assert.Empty(action.CheckInput("script", "param($x)\nif ($x) { 'y' }"));
    }

    [Fact]
    public void Script_and_file_are_one_or_the_other()
    {
        Assert.Contains("give 'script'", action.CheckKeys(["parameters"]), StringComparison.Ordinal);
        Assert.Contains("not both", action.CheckKeys(["script", "file"]), StringComparison.Ordinal);
        Assert.Null(action.CheckKeys(["file"]));
    }

    private static ActionRequest Request(JsonObject with) => new("run_1", "step", 1, "run_1/3/1", "run_1/3", with, NullLogger.Instance);

    private static string[] Texts(JsonNode? node) => [.. node!.AsArray().Select(n => n!.GetValue<string>())];

    private Task<JsonObject> ExecuteAsync(JsonObject with) => action.ExecuteAsync(Request(with), CancellationToken.None);
}
