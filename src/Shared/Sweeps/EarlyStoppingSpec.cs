namespace Orchestrator.Shared.Sweeps;

/// <summary>How a sweep stops unpromising trials on their intermediate metrics (<c>early_stopping:</c> in the sweep YAML).</summary>
public sealed record EarlyStoppingSpec
{
    /// <summary>One of <see cref="EarlyStoppingAlgorithms"/>.</summary>
    public string Algorithm { get; init; } = EarlyStoppingAlgorithms.None;

    /// <summary>The intermediate metric judged; null judges the objective's metric.</summary>
    public string? Metric { get; init; }

    /// <summary>ASHA / Hyperband: training steps of the lowest rung; median: steps before a trial can be stopped.</summary>
    public int MinResource { get; init; } = 100;

    /// <summary>ASHA / Hyperband: the most steps a trial trains (the top rung); null takes the trial's training.steps.</summary>
    public int? MaxResource { get; init; }

    /// <summary>ASHA / Hyperband: η, the fraction 1/η of a rung is promoted.</summary>
    public int ReductionFactor { get; init; } = 3;

    /// <summary>Median rule: completed (or far enough) trials needed before any trial is stopped.</summary>
    public int MinTrials { get; init; } = 5;

    /// <summary>Hyperband: number of brackets; null takes the formula's maximum, floor(log_η(max/min)) + 1.</summary>
    public int? Brackets { get; init; }
}
