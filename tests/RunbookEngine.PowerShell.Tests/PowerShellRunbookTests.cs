using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Tests;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.PowerShell.Tests;

/// <summary>PowerShell steps in YAML and C# runbooks, validated by the real parser and run by the real kernel on SQLite.</summary>
public sealed class PowerShellRunbookTests : IAsyncLifetime
{
    private RunbookTestHost host = null!;

    private string Dir => host.Directory;

    public async Task InitializeAsync() => host = await RunbookTestHost.CreateAsync(ActionCatalog.CreateDefault().AddPowerShell());

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task A_yaml_runbook_runs_an_inline_script_and_a_file_beside_it_and_uses_their_objects()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "scripts"));
        await File.WriteAllTextAsync(Path.Combine(Dir, "scripts", "count.ps1"), "param([int]$Of)\n[pscustomobject]@{ count = $Of * 2 }");
        var yaml = """
            name: ps-pipeline
            inputs:
              name: { type: string, required: true }
            steps:
              - id: greet
                action: powershell
                with:
                  script: |
                    param([string]$Name)
                    [pscustomobject]@{ greeting = "hello $Name"; length = $Name.Length }
                  parameters: { Name: "${{ inputs.name }}" }
                outputs:
                  greeting: "${{ result.value.greeting }}"
                  length: "${{ result.value.length }}"
              - id: count
                action: powershell
                with:
                  file: scripts/count.ps1
                  parameters: { Of: "${{ steps.greet.outputs.length }}" }
                outputs: { count: "${{ result.value.count }}" }
            outputs:
              greeting: "${{ steps.greet.outputs.greeting }}"
              count: "${{ steps.count.outputs.count }}"
            """;
        var run = await host.StartAsync(yaml, new JsonObject { ["name"] = "web-1" }, file: Path.Combine(Dir, "ps.yaml"));
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.True(done.Status == RunStatus.Completed, done.ErrorMessage);
        Assert.Equal("""{"greeting":"hello web-1","count":10}""", done.Output);
    }

    [Fact]
    public async Task A_file_script_is_pinned_with_the_run_so_an_edit_after_the_start_changes_nothing()
    {
        var script = Path.Combine(Dir, "fix.ps1");
        await File.WriteAllTextAsync(script, "'the version the run started with'");
        var yaml = """
            name: pinned
            steps:
              - id: fix
                action: powershell
                with: { file: fix.ps1 }
                outputs: { said: "${{ result.value }}" }
            outputs:
              said: "${{ steps.fix.outputs.said }}"
            """;
        var runbook = host.Parse(yaml, Path.Combine(Dir, "pinned.yaml"));
        Assert.Equal("'the version the run started with'", runbook.Files["fix.ps1"]);
        var run = await host.StartAsync(yaml, file: Path.Combine(Dir, "pinned.yaml"));
        await File.WriteAllTextAsync(script, "'an edit made later'");
        File.Move(Path.Combine(Dir, "fix.ps1"), Path.Combine(Dir, "gone.ps1"));

        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.True(done.Status == RunStatus.Completed, done.ErrorMessage);
        Assert.Equal("""{"said":"the version the run started with"}""", done.Output);
    }

    [Fact]
    public async Task A_dry_run_shows_what_if_operations_and_deletes_nothing()
    {
        var victim = Path.Combine(Dir, "old.log");
        await File.WriteAllTextAsync(victim, "x");
        var yaml = $$"""
            name: cleanup
            steps:
              - id: clean
                action: powershell
                with:
                  script: |
                    [CmdletBinding(SupportsShouldProcess)]
                    param([string]$Path)
                    Remove-Item -Path $Path
                  parameters: { Path: "{{victim}}" }
            """;
        var run = await host.StartAsync(yaml, dryRun: true);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.True(File.Exists(victim));
        var plan = (await host.HistoryAsync(run)).Steps.Single(s => s.Name == "clean").Output!;
        Assert.Contains($"Performing the operation \\u0022Remove File\\u0022 on target \\u0022{victim}\\u0022", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Runbook_defaults_set_the_options_of_every_powershell_step_that_does_not_set_its_own()
    {
        var yaml = """
            name: defaults
            defaults:
              powershell: { language_mode: constrained, allow_errors: true }
            steps:
              - id: constrained
                action: powershell
                with: { script: "Add-Type -TypeDefinition 'public class RbDefaults {}'\n'went on'" }
              - id: full
                action: powershell
                with: { script: "$ExecutionContext.SessionState.LanguageMode.ToString()", language_mode: full }
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        var steps = (await host.HistoryAsync(run)).Steps;
        var constrained = JsonNode.Parse(steps.Single(s => s.Name == "constrained").Output!)!;
        Assert.Contains("not supported in this language mode", constrained["errors"]![0]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("went on", constrained["value"]!.GetValue<string>());
        Assert.Equal("FullLanguage", JsonNode.Parse(steps.Single(s => s.Name == "full").Output!)!["value"]!.GetValue<string>());
    }

    [Fact]
    public void Defaults_for_an_unknown_action_or_input_are_reported_where_they_are_written()
    {
        var yaml = "name: d\ndefaults:\n  powershel: { language_mode: full }\n  powershell: { langauge_mode: full }\nsteps:\n  - id: a\n    action: powershell\n    with: { script: \"1\" }\n";
        var (runbook, problems) = RunbookLibrary.Parse(host.Actions, "d.yaml", yaml);
        Assert.Null(runbook);
        var text = problems.Select(p => p.ToString()).ToList();
        Assert.Contains(text, p => p.StartsWith("d.yaml:3:3: defaults: unknown action 'powershel' (did you mean 'powershell'?)", StringComparison.Ordinal));
        Assert.Contains(text, p => p.StartsWith("d.yaml:4:17: defaults: action 'powershell' has no input 'langauge_mode' (did you mean 'language_mode'?)", StringComparison.Ordinal));
        Assert.Equal(2, text.Count); // once each, where written: not again for every step the defaults reach
    }

    [Fact]
    public async Task A_run_an_alert_started_asks_for_approval_before_a_script_that_cannot_be_previewed_and_not_before_one_that_can()
    {
        var previewed = Path.Combine(Dir, "previewed.txt");
        var unpreviewed = Path.Combine(Dir, "unpreviewed.txt");
        var yaml = $$"""
            name: gated
            triggers:
              - match: ["alertname = DiskFull"]
                approval: { approvers: [bob] }
            steps:
              - id: safe
                action: powershell
                with:
                  script: |
                    [CmdletBinding(SupportsShouldProcess)] param()
                    Set-Content -Path "{{previewed}}" -Value yes
              - id: fix
                action: powershell
                with:
                  script: |
                    Set-Content -Path "{{unpreviewed}}" -Value yes
            """;
        var runbook = host.Parse(yaml);
        var started = await host.Client.StartAsync(RunbookDefinitions.ToDefinition(runbook), new StartRunOptions { Input = new RunbookRunInput([], Gate: RunGate.For(runbook.Triggers[0])).ToJson(), Actor = "alert:alertmanager" });
        var run = started.Run.RunId;
        await host.DrainAsync();

        Assert.True(File.Exists(previewed), "the previewable script waited for an approval it does not need");
        Assert.False(File.Exists(unpreviewed), "the script that cannot be previewed ran without an approval");
        Assert.Contains(await host.TimelineAsync(run), e => e.Kind == "approval.requested" && e.Data!.Contains("(powershell) is destructive: approve to let it run", StringComparison.Ordinal) && e.Data.Contains("fix/approval", StringComparison.Ordinal));

        await host.DecideAsync(run, "fix/approval", "bob", "approve");
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        Assert.True(File.Exists(unpreviewed));
    }

    [Fact]
    public async Task A_step_timeout_stops_the_pipeline_on_the_runs_clock()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var yaml = $$"""
            name: hangs
            steps:
              - id: hang
                action: powershell
                timeout: 30s
                with:
                  script: |
                    $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', {{port}})
                    Start-Sleep -Seconds 3600
            """;
        var run = await host.StartAsync(yaml);
        var drain = host.DrainAsync();
        using var connected = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(60));
        host.Time.Advance(TimeSpan.FromSeconds(31));
        await drain.WaitAsync(TimeSpan.FromSeconds(60));

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, done.Status);
        Assert.Equal("Timeout", (await host.HistoryAsync(run)).Steps.Single(s => s.Name == "hang").ErrorKind);
    }

    [Fact]
    public async Task A_secret_parameter_never_reaches_the_database_or_the_logs_whatever_stream_the_script_writes_it_to()
    {
        const string Secret = "ps-Secret-4417";
        Environment.SetEnvironmentVariable("RB_TEST_PS_TOKEN", Secret);
        var yaml = """
            name: leaky
            steps:
              - id: leak
                action: powershell
                with:
                  script: |
                    param([string]$Token)
                    $Token
                    [pscustomobject]@{ token = $Token }
                    Write-Warning "warn $Token"
                    Write-Verbose "verbose $Token" -Verbose
                    Write-Information "info $Token"
                    Write-Host "host $Token"
                    Write-Debug "debug $Token" -Debug
                    Write-Error "error $Token"
                  parameters: { Token: "secret://env/RB_TEST_PS_TOKEN" }
                  allow_errors: true
              - id: fails
                action: powershell
                with:
                  script: |
                    param([string]$Token)
                    Write-Error "non-terminating $Token"
                  parameters: { Token: "secret://env/RB_TEST_PS_TOKEN" }
                on_failure: continue
              - id: throws
                action: powershell
                with:
                  script: |
                    param([string]$Token)
                    throw "terminating $Token"
                  parameters: { Token: "secret://env/RB_TEST_PS_TOKEN" }
                on_failure: continue
            """;
        var run = await host.StartAsync(yaml);
        await host.DrainAsync();

        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run)).Status);
        var steps = (await host.HistoryAsync(run)).Steps;
        var leak = steps.Single(s => s.Name == "leak").Output!;
        Assert.Contains("warn ***", leak, StringComparison.Ordinal); // the script did write it, masked
        Assert.Contains("error ***", leak, StringComparison.Ordinal);
        Assert.Contains("non-terminating ***", steps.Single(s => s.Name == "fails").ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("terminating ***", steps.Single(s => s.Name == "throws").ErrorMessage, StringComparison.Ordinal);
        var output = JsonNode.Parse((await host.TimelineAsync(run)).Single(e => e.Kind == "step.output").Data!)!;
        Assert.Equal("leak", output["step"]!.GetValue<string>());
        Assert.Equal(["warn ***"], output["warnings"]!.AsArray().Select(w => w!.GetValue<string>()));
        Assert.Equal(["info ***", "host ***"], output["information"]!.AsArray().Select(w => w!.GetValue<string>()));
        Assert.Equal(["verbose ***"], output["verbose"]!.AsArray().Select(w => w!.GetValue<string>()));
        Assert.StartsWith("NotSpecified: error ***", output["errors"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        await host.AssertNeverStoredOrLoggedAsync(Secret, "the secret parameter");
    }

    [Fact]
    public async Task A_csharp_script_runbook_runs_powershell_with_parameters()
    {
        var script = """
            /*---
            name: ps-from-csharp
            inputs:
              name: { type: string, required: true }
            outputs:
              greeting: what PowerShell said
            ---*/
            var said = await PowerShell("greet", "param([string]$Name) \"hello $Name\"", new { Name = Input<string>("name") });
            Output("greeting", said["value"]!.GetValue<string>());
            """;
        var run = await host.StartAsync(script, new JsonObject { ["name"] = "$(whoami)" }, file: "ps.csx");
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.True(done.Status == RunStatus.Completed, done.ErrorMessage);
        Assert.Equal("""{"greeting":"hello $(whoami)"}""", done.Output);
    }

    [Fact]
    public async Task A_csharp_script_runbook_cannot_name_a_file_and_is_told_to_pass_the_text()
    {
        var script = """
            /*---
            name: ps-file-from-csharp
            ---*/
            await Action("greet", "powershell", new { file = "fix.ps1" });
            """;
        var run = await host.StartAsync(script, file: "psfile.csx");
        await host.DrainAsync();

        var done = await host.RunAsync(run);
        Assert.Equal(RunStatus.Failed, done.Status);
        Assert.Contains("a C# script runbook passes the text itself as 'script'", done.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validation_refuses_expressions_in_a_script_and_reports_syntax_errors_where_they_are()
    {
        await File.WriteAllTextAsync(Path.Combine(Dir, "broken.ps1"), "param($a)\n\n$a | \n");
        var yaml = """
            name: bad
            inputs:
              host: { type: string }
            steps:
              - id: pasted
                action: powershell
                with:
                  script: "Restart-Computer ${{ inputs.host }}"
              - id: block
                action: powershell
                with:
                  script: |
                    param($x)
                    if ($x {
                      'y'
                    }
              - id: inline
                action: powershell
                with: { script: "Get-Item (" }
              - id: from-file
                action: powershell
                with: { file: broken.ps1 }
              - id: missing
                action: powershell
                with: { file: nowhere.ps1 }
              - id: both
                action: powershell
                with: { file: broken.ps1, script: "1" }
              - id: absolute
                action: powershell
                with: { file: /etc/x.ps1 }
            """;
        var file = Path.Combine(Dir, "bad.yaml");
        var (runbook, problems) = RunbookLibrary.Parse(host.Actions, file, yaml);

        Assert.Null(runbook);
        var text = problems.Select(p => p.ToString()).ToList();
        Assert.Contains(text, p => p.StartsWith($"{file}:8:16: step 'pasted': 'script' is code and is run as written: it cannot hold ${{{{ }}}} expressions", StringComparison.Ordinal) && p.Contains("parameters: { Name: \"${{ inputs.name }}\" }", StringComparison.Ordinal));
        Assert.Contains($"{file}:14:16: step 'block': 'script': PowerShell syntax error: Unexpected token '{{' in expression or statement.", text);
        Assert.Contains(text, p => p.StartsWith($"{file}:19:32: step 'inline': 'script': PowerShell syntax error: An expression was expected after '('.", StringComparison.Ordinal));
        Assert.Contains(text, p => p.StartsWith($"{Dir}/broken.ps1:3:5: step 'from-file': 'file': PowerShell syntax error: An empty pipe element is not allowed.", StringComparison.Ordinal));
        Assert.Contains(text, p => p.StartsWith($"{file}:25:19: step 'missing': 'file': cannot read '{Dir}/nowhere.ps1'", StringComparison.Ordinal));
        Assert.Contains($"{file}:28:11: step 'both': action 'powershell' takes 'script' or 'file', not both", text);
        Assert.Contains(text, p => p.StartsWith($"{file}:31:19: step 'absolute': 'file' must be a path relative to the runbook's file", StringComparison.Ordinal));
    }

    [Fact]
    public void A_trigger_with_no_approvers_may_start_a_ShouldProcess_script_but_not_one_that_cannot_be_previewed()
    {
        const string Yaml = """
            name: triggered
            triggers:
              - match: ["alertname = DiskFull"]
            steps:
              - id: fix
                action: powershell
                with:
                  script: |
                    SCRIPT
            """;
        var previewable = Yaml.Replace("SCRIPT", "[CmdletBinding(SupportsShouldProcess)] param()\n        Remove-Item /tmp/x", StringComparison.Ordinal);
        var (ok, none) = RunbookLibrary.Parse(host.Actions, "t.yaml", previewable);
        Assert.True(ok is not null, string.Join('\n', none));

        var (refused, problems) = RunbookLibrary.Parse(host.Actions, "t.yaml", Yaml.Replace("SCRIPT", "Remove-Item /tmp/x", StringComparison.Ordinal));
        Assert.Null(refused);
        Assert.Contains(problems, p => p.Message.Contains("step 'fix'", StringComparison.Ordinal) && p.Message.Contains("is destructive: name who approves it", StringComparison.Ordinal));
    }
}
