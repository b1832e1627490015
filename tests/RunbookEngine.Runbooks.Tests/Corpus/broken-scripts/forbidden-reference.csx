/*---
name: forbidden-reference
---*/
#r "System.Net.Http.dll"
#load "helpers.csx"
using System.Reflection;
var asm = typeof(RunbookScript).Assembly;
var methods = typeof(string).GetMethods();
var parser = new RunbookEngine.Runbooks.RunbookParser(null);
var client = new System.Net.Http.HttpClient();
var p = System.Diagnostics.Process.Start("rm", "-rf /");
dynamic d = 1;
