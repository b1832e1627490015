/*---
name: syntax-error
---*/
var x = await Shell("probe", ["true"]
if (x.ExitCode == 0 {
    await Log("ok", "fine");
}
