namespace Orchestrator.Shared.Sweeps;

/// <summary>How many trials a sweep runs, side by side, and how many failures it tolerates (<c>budget:</c>).</summary>
public sealed record BudgetSpec
{
    public int MaxTrials { get; init; } = 10;
    public int ParallelTrials { get; init; } = 1;
    /// <summary>The sweep fails once more trials than this failed; null: failures never stop it.</summary>
    public int? MaxFailedTrials { get; init; }
    /// <summary>Re-runs of a trial after attempts lost to infrastructure (not after its own failures).</summary>
    public int MaxRetries { get; init; } = 3;
}
