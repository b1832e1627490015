using RunbookEngine.Workflows;

namespace RunbookEngine.Temporal;

/// <summary>Signals a runbook workflow received and has not consumed yet, by name, in the order they arrived.</summary>
internal sealed class SignalInbox
{
    private readonly List<ReceivedSignal> pending = [];

    public void Add(ReceivedSignal signal) => pending.Add(signal);

    public bool Has(string name) => pending.Exists(s => string.Equals(s.Name, name, StringComparison.Ordinal));

    public ReceivedSignal Take(string name)
    {
        var index = pending.FindIndex(s => string.Equals(s.Name, name, StringComparison.Ordinal));
        var signal = pending[index];
        pending.RemoveAt(index);
        return signal;
    }
}
