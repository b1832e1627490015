using Microsoft.Extensions.Logging;

namespace RunbookEngine.Actions;

/// <summary>A logger that hides known secret values in every message it passes on.</summary>
internal sealed class RedactingLogger(ILogger inner, IReadOnlyCollection<string> secrets) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        var text = Secrets.RedactText(formatter(state, exception), secrets);
        var error = exception is null ? null : new RedactedException(Secrets.RedactText(exception.ToString(), secrets));
#pragma warning disable CA1848, CA2254 // The text is already formatted and redacted; structure would carry the secret along.
        inner.Log(logLevel, eventId, text, error, static (s, _) => s);
#pragma warning restore CA1848, CA2254
    }

    /// <summary>Stands in for an exception whose text had to be redacted.</summary>
    private sealed class RedactedException(string text) : Exception(text)
    {
        public override string ToString() => Message;
    }
}
