namespace Orchestrator.Coordinator.Scheduling;

/// <summary>A request that got its gang: worker ids and the slot taken on each, indexed by rank.</summary>
public sealed record Placement(GangRequest Request, IReadOnlyList<string> Workers, IReadOnlyList<int> Slots);
