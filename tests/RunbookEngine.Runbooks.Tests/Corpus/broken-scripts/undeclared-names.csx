/*---
name: undeclared-names
inputs:
  host: { type: string, required: true }
outputs:
  restarted: whether the service was restarted
---*/
var host = Input<string>("hots");
Output("restarted", true);
Output("resarted", true);
await Log("bad/id", "x");
var thread = new System.Threading.Thread(() => { });
