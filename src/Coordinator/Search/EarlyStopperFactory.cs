using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Makes the early stopper a sweep's <see cref="EarlyStoppingSpec"/> asks for, new or from its persisted state.</summary>
public static class EarlyStopperFactory
{
    /// <param name="spec">The sweep's early_stopping section.</param>
    /// <param name="maxSteps">The trials' training.steps: the top rung when the spec sets no max_resource.</param>
    public static IEarlyStopper Create(EarlyStoppingSpec spec, int maxSteps)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Algorithm switch
        {
            EarlyStoppingAlgorithms.None => new NoEarlyStopper(),
            EarlyStoppingAlgorithms.Median => new MedianStopper(spec.MinResource, spec.MinTrials),
            EarlyStoppingAlgorithms.Asha => new AshaStopper(spec.MinResource, MaxResource(spec, maxSteps), spec.ReductionFactor),
            EarlyStoppingAlgorithms.Hyperband => new HyperbandStopper(spec.MinResource, MaxResource(spec, maxSteps), spec.ReductionFactor, spec.Brackets),
            _ => throw UnknownAlgorithm(spec.Algorithm),
        };
    }

    /// <summary>
    /// The stopper that saved <paramref name="state"/>, continuing where it stopped. Throws
    /// <see cref="SearchStateException"/> when the state is corrupt or was saved for another algorithm or settings.
    /// </summary>
    public static IEarlyStopper Restore(EarlyStoppingSpec spec, int maxSteps, string state)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Algorithm switch
        {
            EarlyStoppingAlgorithms.None => NoEarlyStopper.Restore(state),
            EarlyStoppingAlgorithms.Median => MedianStopper.Restore(spec.MinResource, spec.MinTrials, state),
            EarlyStoppingAlgorithms.Asha => AshaStopper.Restore(spec.MinResource, MaxResource(spec, maxSteps), spec.ReductionFactor, state),
            EarlyStoppingAlgorithms.Hyperband =>
                HyperbandStopper.Restore(spec.MinResource, MaxResource(spec, maxSteps), spec.ReductionFactor, spec.Brackets, state),
            _ => throw UnknownAlgorithm(spec.Algorithm),
        };
    }

    private static int MaxResource(EarlyStoppingSpec spec, int maxSteps)
    {
        int max = spec.MaxResource ?? maxSteps;
        if (max < 1) throw new ArgumentException($"{spec.Algorithm}: max_resource (or the trials' training.steps) must be >= 1, got {max}");
        return max;
    }

    private static ArgumentException UnknownAlgorithm(string algorithm) =>
        new($"unknown early-stopping algorithm '{algorithm}' (expected one of {string.Join(", ", EarlyStoppingAlgorithms.All)})", nameof(algorithm));
}
