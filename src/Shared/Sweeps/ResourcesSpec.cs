namespace Orchestrator.Shared.Sweeps;

/// <summary>What one trial occupies (<c>resources:</c>): <c>workers</c> processes on distinct workers, <c>devices</c> replicas in each.</summary>
public sealed record ResourcesSpec
{
    public int Workers { get; init; } = 1;
    public int Devices { get; init; } = 1;

    /// <summary>Replicas of the trial's data-parallel group.</summary>
    public int WorldSize => Workers * Devices;
}
