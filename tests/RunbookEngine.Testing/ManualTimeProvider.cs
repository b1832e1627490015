using Microsoft.Extensions.Time.Testing;

namespace RunbookEngine.Testing;

/// <summary>
/// A clock that moves only when the test says so: <see cref="FakeTimeProvider"/> (timers, Task.Delay,
/// PeriodicTimer and CancellationTokenSource delays fire as <c>Advance</c> passes their due time), in UTC from a
/// fixed start, plus <see cref="WaitForTimerAsync"/>: a test advances only once the code under test has set the
/// timer it means to fire, instead of guessing when that happens.
/// </summary>
public sealed class ManualTimeProvider : FakeTimeProvider
{
    private readonly Lock gate = new();
    private readonly List<(TimeSpan Due, TaskCompletionSource Seen)> waiters = [];

    public ManualTimeProvider(DateTimeOffset? start = null)
        : base(start ?? new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>Completes when a timer is set (created or changed) with exactly this due time.</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            waiters.Add((dueTime, seen));
        }

        return seen.Task;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new WatchedTimer(this, base.CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        timer.Change(dueTime, period);
        return timer;
    }

    private void Set(TimeSpan dueTime)
    {
        if (dueTime == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        List<TaskCompletionSource> seen;
        lock (gate)
        {
            seen = [.. waiters.Where(w => w.Due == dueTime).Select(w => w.Seen)];
            waiters.RemoveAll(w => w.Due == dueTime);
        }

        foreach (var s in seen)
        {
            s.TrySetResult();
        }
    }

    /// <summary>The fake's timer, reporting each due time it is set to.</summary>
    private sealed class WatchedTimer(ManualTimeProvider owner, ITimer inner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
            owner.Set(dueTime);
            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
