namespace Orchestrator.Shared.Sweeps;

/// <summary>How a sweep proposes trial configurations (<c>search:</c> in the sweep YAML).</summary>
public sealed record SearchSpec
{
    /// <summary>One of <see cref="SearchAlgorithms"/>.</summary>
    public string Algorithm { get; init; } = SearchAlgorithms.Random;

    /// <summary>Seeds every random choice of the searcher: the same seed and results give the same suggestions.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Grid: points per numeric range when a parameter does not set its own.</summary>
    public int GridPoints { get; init; } = 3;

    /// <summary>TPE: random trials before the model is used.</summary>
    public int StartupTrials { get; init; } = 10;

    /// <summary>TPE: the quantile of observed trials counted as good.</summary>
    public double Gamma { get; init; } = 0.25;

    /// <summary>TPE: candidates drawn from the good density per suggestion.</summary>
    public int Candidates { get; init; } = 24;

    /// <summary>PBT: members of the population (trials running side by side).</summary>
    public int Population { get; init; } = 8;

    /// <summary>PBT: steps between exploit/explore decisions of a member.</summary>
    public int ReadyInterval { get; init; } = 500;

    /// <summary>PBT: the bottom and top fraction of the population (exploiters and exploited).</summary>
    public double Quantile { get; init; } = 0.25;

    /// <summary>PBT: probability that explore resamples a parameter from its range instead of perturbing it.</summary>
    public double ResampleProbability { get; init; } = 0.25;

    /// <summary>PBT: factors a numeric parameter is multiplied by when perturbed (one is picked at random).</summary>
    public IReadOnlyList<double> PerturbFactors { get; init; } = [0.8, 1.2];
}
