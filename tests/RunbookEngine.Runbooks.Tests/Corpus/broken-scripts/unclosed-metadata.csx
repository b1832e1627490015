/*---
name: unclosed
await Shell("probe", ["true"]);
