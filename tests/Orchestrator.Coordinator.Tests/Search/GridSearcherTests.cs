using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class GridSearcherTests
{
    [Fact]
    public void Grid_is_the_cartesian_product_in_parameter_order_then_exhausted()
    {
        var grid = new GridSearcher(new SearchSpace([Spaces.Uniform("x", 0, 1), Spaces.Categorical("c", "a", "b")]), 3);
        Assert.Equal(6, grid.Size);
        double[][] expected = [[0, 0], [0, 1], [0.5, 0], [0.5, 1], [1, 0], [1, 1]];
        for (int t = 0; t < expected.Length; t++) Assert.Equal(expected[t], grid.Suggest(t));
        Assert.Null(grid.Suggest(6));
        Assert.Null(grid.Suggest(100));
    }

    [Fact]
    public void Log_uniform_grid_points_are_evenly_spaced_in_log_space_with_exact_ends()
    {
        var grid = new GridSearcher(new SearchSpace([Spaces.Log("lr", 1e-4, 1e-1, gridPoints: 4)]), 3);
        var values = grid.Values(0);
        Assert.Equal(4, values.Count);
        Assert.Equal(1e-4, values[0]);
        Assert.Equal(1e-3, values[1], 1e-15);
        Assert.Equal(1e-2, values[2], 1e-14);
        Assert.Equal(1e-1, values[3]);
    }

    [Fact]
    public void Int_grid_points_are_distinct_whole_numbers()
    {
        var grid = new GridSearcher(new SearchSpace([Spaces.Int("layers", 1, 3, gridPoints: 5), Spaces.Int("width", 0, 100, gridPoints: 3)]), 3);
        Assert.Equal([1, 2, 3], grid.Values(0));
        Assert.Equal([0, 50, 100], grid.Values(1));
        Assert.Equal(9, grid.Size);
    }

    [Fact]
    public void A_single_grid_point_is_the_middle_of_the_range()
    {
        var grid = new GridSearcher(new SearchSpace([Spaces.Uniform("x", 2, 4), Spaces.Log("y", 1, 100)]), 1);
        Assert.Equal(3.0, grid.Values(0)[0]);
        Assert.Equal(10.0, grid.Values(1)[0], 1e-12);
    }

    [Fact]
    public void Restored_grid_continues_with_the_same_points()
    {
        var parameters = Spaces.Mixed();
        var search = new SearchSpec { Algorithm = SearchAlgorithms.Grid, GridPoints = 2 };
        var grid = SearcherFactory.Create(search, parameters);
        grid.Suggest(0);
        grid.Observe(0, 1.5);
        var restored = SearcherFactory.Restore(search, parameters, grid.SaveState());
        for (int t = 1; t < 30; t++) Assert.Equal(grid.Suggest(t), restored.Suggest(t));
    }

    [Fact]
    public void Restoring_a_grid_whose_points_changed_fails_naming_both_sizes()
    {
        var parameters = Spaces.Mixed();
        var state = SearcherFactory.Create(new SearchSpec { Algorithm = SearchAlgorithms.Grid, GridPoints = 2 }, parameters).SaveState();
        var e = Assert.Throws<SearchStateException>(() =>
            SearcherFactory.Restore(new SearchSpec { Algorithm = SearchAlgorithms.Grid, GridPoints = 3 }, parameters, state));
        Assert.Contains("24", e.Message);
        Assert.Contains("81", e.Message);
    }
}
