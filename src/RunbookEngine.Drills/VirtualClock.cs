namespace RunbookEngine.Drills;

/// <summary>
/// A clock that moves only when told to, firing the timers (timeouts) that fall due on the way in order: what lets a
/// two-hour incident replay in milliseconds and the same drill give the same timeline every time.
/// </summary>
public sealed class VirtualClock : TimeProvider
{
    private readonly Lock gate = new();
    private readonly List<VirtualTimer> timers = [];
    private DateTimeOffset now;

    /// <summary>Initializes a new instance of the <see cref="VirtualClock"/> class.</summary>
    /// <param name="start">The time it starts at.</param>
    public VirtualClock(DateTimeOffset start) => now = start;

    /// <inheritdoc/>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc/>
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow()
    {
        lock (gate)
        {
            return now;
        }
    }

    /// <inheritdoc/>
    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock to <paramref name="target"/> (never back), firing the timers due on the way.</summary>
    /// <param name="target">The time to move to.</param>
    public void AdvanceTo(DateTimeOffset target) => AdvanceTo(target, CancellationToken.None);

    /// <summary>
    /// Moves the clock towards <paramref name="target"/>, firing due timers in order, and stops at the instant
    /// <paramref name="stopWhen"/> is cancelled by one of them (an attempt's timeout, say).
    /// </summary>
    /// <param name="target">The time to move to.</param>
    /// <param name="stopWhen">Stops the clock where it is when cancelled.</param>
    /// <returns>Whether the clock reached the target (false: stopped by <paramref name="stopWhen"/>).</returns>
    public bool AdvanceTo(DateTimeOffset target, CancellationToken stopWhen)
    {
        while (true)
        {
            if (stopWhen.IsCancellationRequested)
            {
                return false;
            }

            VirtualTimer? next;
            lock (gate)
            {
                next = timers.Where(t => t.Due is { } d && d <= target).MinBy(t => t.Due);
                if (next is null)
                {
                    if (target > now)
                    {
                        now = target;
                    }

                    return true;
                }

                if (next.Due > now)
                {
                    now = next.Due!.Value;
                }

                next.Due = next.Period > TimeSpan.Zero ? now + next.Period : null;
            }

            next.Fire();
        }
    }

    private void Schedule(VirtualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        lock (gate)
        {
            timer.Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
            timer.Due = dueTime == Timeout.InfiniteTimeSpan ? null : now + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
            if (!timers.Contains(timer))
            {
                timers.Add(timer);
            }
        }
    }

    private void Remove(VirtualTimer timer)
    {
        lock (gate)
        {
            timers.Remove(timer);
        }
    }

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }

        public TimeSpan Period { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            clock.Schedule(this, dueTime, period);
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose() => clock.Remove(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
