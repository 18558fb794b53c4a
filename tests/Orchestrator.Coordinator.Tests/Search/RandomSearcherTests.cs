using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class RandomSearcherTests
{
    private static readonly SearchSpec Spec = new() { Algorithm = SearchAlgorithms.Random, Seed = 42 };

    [Fact]
    public void Same_seed_gives_the_same_suggestions_whatever_the_call_order()
    {
        var a = SearcherFactory.Create(Spec, Spaces.Mixed());
        var b = SearcherFactory.Create(Spec, Spaces.Mixed());
        var forward = new double[20][];
        for (int t = 0; t < 20; t++) forward[t] = a.Suggest(t)!;
        for (int t = 19; t >= 0; t--) Assert.Equal(forward[t], b.Suggest(t));
    }

    [Fact]
    public void Different_seeds_and_trials_give_different_points()
    {
        var a = SearcherFactory.Create(Spec, Spaces.Mixed());
        var b = SearcherFactory.Create(Spec with { Seed = 43 }, Spaces.Mixed());
        Assert.NotEqual(a.Suggest(0), b.Suggest(0));
        Assert.NotEqual(a.Suggest(0), a.Suggest(1));
    }

    [Fact]
    public void Random_search_never_runs_out()
    {
        var searcher = SearcherFactory.Create(Spec, Spaces.Mixed());
        Assert.NotNull(searcher.Suggest(1_000_000));
    }

    [Fact]
    public void Restored_random_searcher_continues_with_the_same_points()
    {
        var searcher = SearcherFactory.Create(Spec, Spaces.Mixed());
        for (int t = 0; t < 5; t++)
        {
            searcher.Suggest(t);
            searcher.Observe(t, t);
        }
        var restored = SearcherFactory.Restore(Spec, Spaces.Mixed(), searcher.SaveState());
        for (int t = 5; t < 20; t++) Assert.Equal(searcher.Suggest(t), restored.Suggest(t));
    }

    [Fact]
    public void Restoring_with_another_seed_or_space_fails_naming_the_difference()
    {
        var state = SearcherFactory.Create(Spec, Spaces.Mixed()).SaveState();
        Assert.Contains("seed 42", Assert.Throws<SearchStateException>(() =>
            SearcherFactory.Restore(Spec with { Seed = 1 }, Spaces.Mixed(), state)).Message);
        var changed = Spaces.Mixed().ToList();
        changed[0] = Spaces.Uniform("model.dropout", 0.0, 0.9);
        Assert.Contains("model.dropout", Assert.Throws<SearchStateException>(() =>
            SearcherFactory.Restore(Spec, changed, state)).Message);
    }
}
