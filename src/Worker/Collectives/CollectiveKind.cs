namespace Orchestrator.Worker.Collectives;

/// <summary>Which collective a chunk belongs to; ranks that called different ones fail on the first chunk.</summary>
public enum CollectiveKind
{
    AllReduceSum = 1,
    AllReduceAverage = 2,
    Broadcast = 3,
    Barrier = 4,
}
