/*---
name: forbidden-api
---*/
var started = DateTime.UtcNow;
var today = DateTimeOffset.Now;
var id = Guid.NewGuid();
var dice = new Random().Next(6);
await Task.Delay(1000);
System.Threading.Thread.Sleep(10);
await Task.Run(() => 1);
var text = System.IO.File.ReadAllText("/etc/hostname");
Console.WriteLine("hello");
var home = Environment.GetEnvironmentVariable("HOME");

// Inside a step all of these run once and are recorded: allowed.
var stamp = await Step("stamp", () => DateTime.UtcNow.ToString("O") + Guid.NewGuid() + System.IO.File.Exists("/etc/hostname"));
