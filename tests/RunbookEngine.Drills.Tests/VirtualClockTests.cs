namespace RunbookEngine.Drills.Tests;

public sealed class VirtualClockTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Timers_fire_in_due_order_at_their_own_instant_and_periodic_ones_repeat()
    {
        var clock = new VirtualClock(Start);
        var fired = new List<(string Name, TimeSpan At)>();
        using var late = clock.CreateTimer(_ => fired.Add(("late", clock.GetUtcNow() - Start)), null, TimeSpan.FromMinutes(5), Timeout.InfiniteTimeSpan);
        using var early = clock.CreateTimer(_ => fired.Add(("early", clock.GetUtcNow() - Start)), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2));

        clock.AdvanceTo(Start + TimeSpan.FromMinutes(6));

        Assert.Equal(
            [("early", TimeSpan.FromMinutes(1)), ("early", TimeSpan.FromMinutes(3)), ("late", TimeSpan.FromMinutes(5)), ("early", TimeSpan.FromMinutes(5))],
            fired.OrderBy(f => f.At).ThenBy(f => f.Name == "early" ? 1 : 0).ToList());
        Assert.Equal(Start + TimeSpan.FromMinutes(6), clock.GetUtcNow());
    }

    [Fact]
    public void A_timeout_stops_the_clock_at_the_instant_it_fires()
    {
        var clock = new VirtualClock(Start);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30), clock);

        var reached = clock.AdvanceTo(Start + TimeSpan.FromMinutes(10), timeout.Token);

        Assert.False(reached);
        Assert.True(timeout.IsCancellationRequested);
        Assert.Equal(Start + TimeSpan.FromSeconds(30), clock.GetUtcNow());
    }

    [Fact]
    public void A_disposed_timer_never_fires_and_the_clock_never_goes_back()
    {
        var clock = new VirtualClock(Start);
        var fired = false;
        var timer = clock.CreateTimer(_ => fired = true, null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        timer.Dispose();
        clock.AdvanceTo(Start + TimeSpan.FromMinutes(1));
        clock.AdvanceTo(Start);

        Assert.False(fired);
        Assert.Equal(Start + TimeSpan.FromMinutes(1), clock.GetUtcNow());
    }
}
