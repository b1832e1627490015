/*---
name: type-error
inputs:
  replicas: { type: number, default: 2 }
---*/
int replicas = Input<string>("replicas");
var probe = await Http("probe", "http://127.0.0.1:9/health");
string status = probe.Status;
await Shell("restart", ["systemctl", "restart", 42]);
await Undefined("x");
foreach (var n in new[] { 1 }) { int unused = 5; }
