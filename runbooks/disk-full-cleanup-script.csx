/*---
name: disk-full-cleanup-script
description: |
  disk-full-cleanup written as a C# script: the same steps, approvals and outcomes as the YAML runbook.
  Measures usage, lists the *.log files older than `max_age_days` only above the threshold, asks the on-call
  before deleting anything, deletes, and measures again.
inputs:
  path:         { type: string, required: true, description: "the directory whose old *.log files may be deleted" }
  threshold:    { type: number, default: 90, description: "act only above this usage, in percent" }
  max_age_days: { type: number, default: 7, description: "delete *.log files older than this" }
outputs:
  before: disk usage before, in percent
  after: disk usage after, in percent
  deleted: how many files were deleted
---*/

var path = Input<string>("path");
var threshold = Input<double>("threshold");
var maxAge = Input<int>("max_age_days");

var measure = await Shell("measure", ["df", "--output=pcent", path]);
var before = Percent(measure);
var deleted = 0;

if (DryRun || before > threshold)
{
    var candidates = await Shell("candidates", ["find", path, "-type", "f", "-name", "*.log", "-mtime", $"+{maxAge}"]);
    if (DryRun || candidates.Lines.Count > 0)
    {
        await Approval("approve", ["group:sre-oncall"],
            message: $"Delete {candidates.Lines.Count} log files older than {maxAge} days in {path} (disk at {before}%)?",
            timeout: TimeSpan.FromMinutes(30));
        var clean = await Shell("clean", ["find", path, "-type", "f", "-name", "*.log", "-mtime", $"+{maxAge}", "-delete", "-print"],
            settings: new StepSettings { MaxAttempts = 3, InitialInterval = TimeSpan.FromSeconds(2), MaxInterval = TimeSpan.FromSeconds(30), Timeout = TimeSpan.FromMinutes(5) });
        deleted = clean.Lines.Count;
    }
}

var verify = await Shell("verify", ["df", "--output=pcent", path]);
Output("before", before);
Output("after", Percent(verify));
Output("deleted", deleted);

// df prints a header, then the usage as " 87%".
static double Percent(ShellResult df) => df.Planned ? 0 : double.Parse(df.Lines[^1].Trim().TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture);
