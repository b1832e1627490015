using RunbookEngine.Cli;

return await CliApp.InvokeAsync(args, CliIo.FromConsole()).ConfigureAwait(false);
