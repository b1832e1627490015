using RunbookEngine.Workflows;

namespace RunbookEngine.Workflows.Tests;

public sealed class WorkerOptionsTests
{
    [Fact]
    public void The_default_heartbeat_is_a_third_of_the_lease()
    {
        var o = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(30) };
        Assert.Equal(TimeSpan.FromSeconds(10), o.EffectiveHeartbeatInterval);
        o.Validate();
    }

    [Fact]
    public void A_heartbeat_not_shorter_than_the_lease_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(5), HeartbeatInterval = TimeSpan.FromSeconds(5) }.Validate());
        Assert.Contains("shorter than the lease", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_with_no_queue_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new WorkerOptions { Queues = [] }.Validate());
    }
}
