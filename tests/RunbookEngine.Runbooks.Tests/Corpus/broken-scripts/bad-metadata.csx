/*---
name: Bad_Name
descripton: typo
max_loops: 3
inputs:
  host: { type: string, required: true }
outputs:
  restarted:
steps:
  - id: x
    action: log
---*/
var host = Input<string>("hots");
Output("restarted", true);
Output("resarted", true);
await Log("bad/id", "x");
