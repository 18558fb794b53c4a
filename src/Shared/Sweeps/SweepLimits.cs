namespace Orchestrator.Shared.Sweeps;

/// <summary>Limits a sweep is validated against: fixed caps on its size plus what the coordinator configures.</summary>
public sealed record SweepLimits
{
    /// <summary>Largest sweep YAML document accepted.</summary>
    public const int MaxDocumentChars = 256 * 1024;

    /// <summary>Largest serialized SweepSpec message accepted on the wire.</summary>
    public const int MaxSerializedBytes = 256 * 1024;

    public const int MaxParameters = 64;
    public const int MaxCategoricalValues = 1000;

    /// <summary>The coordinator's cap on budget.max_trials.</summary>
    public int MaxTrials { get; init; } = 10_000;

    /// <summary>Workers in the cluster, the cap on resources.workers; null when not known (a file checked offline).</summary>
    public int? ClusterWorkers { get; init; }
}
