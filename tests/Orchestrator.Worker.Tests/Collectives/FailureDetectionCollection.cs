namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>
/// Tests that wait for a group to notice a dead or stalled peer run alone: a rank counts as quiet after three
/// missed heartbeats, and the other collective tests running beside them on a 2-core machine can starve the
/// test process long enough for every rank to blame its neighbour instead of the stalled rank.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FailureDetectionCollection
{
    public const string Name = "Failure detection";
}
