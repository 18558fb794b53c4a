using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Makes the searcher a sweep's <see cref="SearchSpec"/> asks for, new or from its persisted state.</summary>
/// <remarks>
/// PBT's members start from random points: for <c>pbt</c> the searcher is a <see cref="RandomSearcher"/> (the
/// initial population) and the exploit/explore decisions belong to <see cref="PbtController"/>.
/// </remarks>
public static class SearcherFactory
{
    public static ISearcher Create(SearchSpec search, IReadOnlyList<ParameterSpec> parameters)
    {
        ArgumentNullException.ThrowIfNull(search);
        var space = new SearchSpace(parameters);
        return search.Algorithm switch
        {
            SearchAlgorithms.Grid => new GridSearcher(space, search.GridPoints),
            SearchAlgorithms.Random or SearchAlgorithms.Pbt => new RandomSearcher(space, search.Seed),
            SearchAlgorithms.Tpe => new TpeSearcher(space, search),
            _ => throw UnknownAlgorithm(search.Algorithm),
        };
    }

    /// <summary>
    /// The searcher that saved <paramref name="state"/>, continuing where it stopped. Throws
    /// <see cref="SearchStateException"/> when the state is corrupt or was saved for another algorithm, seed or space.
    /// </summary>
    public static ISearcher Restore(SearchSpec search, IReadOnlyList<ParameterSpec> parameters, string state)
    {
        ArgumentNullException.ThrowIfNull(search);
        var space = new SearchSpace(parameters);
        return search.Algorithm switch
        {
            SearchAlgorithms.Grid => GridSearcher.Restore(space, search.GridPoints, state),
            SearchAlgorithms.Random or SearchAlgorithms.Pbt => RandomSearcher.Restore(space, search.Seed, state),
            SearchAlgorithms.Tpe => TpeSearcher.Restore(space, search, state),
            _ => throw UnknownAlgorithm(search.Algorithm),
        };
    }

    private static ArgumentException UnknownAlgorithm(string algorithm) =>
        new($"unknown search algorithm '{algorithm}' (expected one of {string.Join(", ", SearchAlgorithms.All)})", nameof(algorithm));
}
