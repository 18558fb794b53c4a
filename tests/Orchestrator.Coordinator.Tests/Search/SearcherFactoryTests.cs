using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class SearcherFactoryTests
{
    [Fact]
    public void Factory_makes_the_searcher_the_spec_names()
    {
        Assert.IsType<GridSearcher>(SearcherFactory.Create(new SearchSpec { Algorithm = SearchAlgorithms.Grid }, Spaces.Mixed()));
        Assert.IsType<RandomSearcher>(SearcherFactory.Create(new SearchSpec { Algorithm = SearchAlgorithms.Random }, Spaces.Mixed()));
    }

    [Fact]
    public void Unknown_algorithm_is_rejected_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => SearcherFactory.Create(new SearchSpec { Algorithm = "bayes" }, Spaces.Mixed()));
        Assert.Contains("'bayes'", e.Message);
        e = Assert.Throws<ArgumentException>(() => SearcherFactory.Restore(new SearchSpec { Algorithm = "bayes" }, Spaces.Mixed(), "{}"));
        Assert.Contains("'bayes'", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("{\"algorithm\": 5}")]
    public void Corrupt_state_is_rejected_with_a_search_state_exception(string state)
    {
        var e = Assert.Throws<SearchStateException>(() =>
            SearcherFactory.Restore(new SearchSpec { Algorithm = SearchAlgorithms.Random }, Spaces.Mixed(), state));
        Assert.Contains("random", e.Message);
    }

    [Fact]
    public void State_of_one_algorithm_is_not_restored_as_another()
    {
        var state = SearcherFactory.Create(new SearchSpec { Algorithm = SearchAlgorithms.Grid }, Spaces.Mixed()).SaveState();
        var e = Assert.Throws<SearchStateException>(() =>
            SearcherFactory.Restore(new SearchSpec { Algorithm = SearchAlgorithms.Random }, Spaces.Mixed(), state));
        Assert.Contains("'grid'", e.Message);
    }
}
