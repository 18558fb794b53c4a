using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Independent uniform draws from the search space (log-uniform in log space, whole numbers for int).</summary>
/// <remarks>
/// Trial n's point comes from its own random stream (seed, n), so suggestions are identical whatever order the
/// calls come in, whether a call is retried, and whether the searcher was restored in between: there is nothing
/// to persist beyond the seed and the space it was made for.
/// </remarks>
public sealed class RandomSearcher : ISearcher
{
    public const string AlgorithmName = SearchAlgorithms.Random;

    /// <summary>Stream purpose shared with TPE's start-up trials, so both start from the same points for a seed.</summary>
    internal const ulong StreamPurpose = 1;

    private readonly SearchSpace _space;
    private readonly int _seed;

    public RandomSearcher(SearchSpace space, int seed)
    {
        ArgumentNullException.ThrowIfNull(space);
        _space = space;
        _seed = seed;
    }

    public double[]? Suggest(int trialNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        return _space.Sample(DeterministicRandom.ForStream(_seed, trialNumber, StreamPurpose));
    }

    /// <summary>Results do not change random search.</summary>
    public void Observe(int trialNumber, double? loss) => ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);

    public string SaveState() => StateJson.Write(new State
    {
        Algorithm = AlgorithmName,
        Version = StateJson.Version,
        Seed = _seed,
        Parameters = _space.Signature(),
    });

    /// <summary>A random searcher continuing from <paramref name="state"/>; throws <see cref="SearchStateException"/> if it does not fit.</summary>
    public static RandomSearcher Restore(SearchSpace space, int seed, string state)
    {
        StateJson.Read<State>(state, AlgorithmName, space.Signature(), seed);
        return new RandomSearcher(space, seed);
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
    }
}
