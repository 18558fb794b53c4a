namespace Orchestrator.Coordinator.Scheduling;

/// <summary>A worker's lease: renewed by every message it sends, lost when it has been silent for the lease's length.</summary>
public sealed class Lease(TimeSpan duration)
{
    public TimeSpan Duration { get; } = duration;

    public DateTime ExpiresAt { get; private set; } = DateTime.MinValue;

    public void Renew(DateTime now) => ExpiresAt = now + Duration;

    public bool IsExpired(DateTime now) => now >= ExpiresAt;
}
