namespace RunbookEngine.Testing;

/// <summary>
/// A clock that moves only when the test says so; timers (Task.Delay, PeriodicTimer, CancellationTokenSource
/// with a delay) fire when <see cref="Advance"/> passes their due time. Written here because
/// Microsoft.Extensions.TimeProvider.Testing is not on our registry.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock gate = new();
    private readonly List<ManualTimer> timers = [];
    private readonly List<(TimeSpan Due, TaskCompletionSource Seen)> timerWaiters = [];
    private DateTimeOffset now;

    public ManualTimeProvider(DateTimeOffset? start = null)
    {
        now = start ?? new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
    }

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow()
    {
        lock (gate)
        {
            return now;
        }
    }

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        DateTimeOffset target;
        lock (gate)
        {
            target = now + by;
        }

        // Fire due timers in due order, moving the clock to each one's due time first.
        while (true)
        {
            ManualTimer? next;
            lock (gate)
            {
                next = timers.Where(t => t.Due <= target).OrderBy(t => t.Due).FirstOrDefault();
                if (next is null)
                {
                    now = target;
                    return;
                }

                if (next.Due > now)
                {
                    now = next.Due;
                }

                next.Reschedule(now, timers);
            }

            next.Fire();
        }
    }

    /// <summary>Completes when a timer is set with exactly this due time (so a test advances only once it exists).</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            timerWaiters.Add((dueTime, seen));
        }

        return seen.Task;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan period;

        public DateTimeOffset Due { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner.gate)
            {
                owner.timers.Remove(this);
                this.period = period;
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    Due = owner.now + dueTime;
                    owner.timers.Add(this);
                    foreach (var w in owner.timerWaiters.Where(w => w.Due == dueTime).ToList())
                    {
                        owner.timerWaiters.Remove(w);
                        w.Seen.TrySetResult();
                    }
                }
            }

            return true;
        }

        public void Reschedule(DateTimeOffset at, List<ManualTimer> all)
        {
            all.Remove(this);
            if (period != Timeout.InfiniteTimeSpan && period > TimeSpan.Zero)
            {
                Due = at + period;
                all.Add(this);
            }
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner.gate)
            {
                owner.timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
