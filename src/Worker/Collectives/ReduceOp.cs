namespace Orchestrator.Worker.Collectives;

/// <summary>How an all-reduce combines the ranks' buffers.</summary>
public enum ReduceOp
{
    Sum,
    /// <summary>The sum divided by the world size (data-parallel gradient averaging).</summary>
    Average,
}
