using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class TpeSearcherTests
{
    private const int Trials = 50;
    private const int Seeds = 10;

    private static SearchSpec Tpe(int seed) => new() { Algorithm = SearchAlgorithms.Tpe, Seed = seed };

    private static double Quadratic(double[] p) => (p[0] - 0.3) * (p[0] - 0.3) + (p[1] + 0.2) * (p[1] + 0.2);

    private static double Branin(double[] p)
    {
        double x1 = p[0], x2 = p[1];
        const double a = 1, b = 5.1 / (4 * Math.PI * Math.PI), c = 5 / Math.PI, r = 6, s = 10, t = 1 / (8 * Math.PI);
        return a * Math.Pow(x2 - b * x1 * x1 + c * x1 - r, 2) + s * (1 - t) * Math.Cos(x1) + s;
    }

    private static double BestOf(SearchSpec search, IReadOnlyList<ParameterSpec> parameters, Func<double[], double> objective)
    {
        var searcher = SearcherFactory.Create(search, parameters);
        double best = double.PositiveInfinity;
        for (int t = 0; t < Trials; t++)
        {
            var point = searcher.Suggest(t)!;
            double loss = objective(point);
            best = Math.Min(best, loss);
            searcher.Observe(t, loss);
        }
        return best;
    }

    private static (double Tpe, double Random) MedianBests(IReadOnlyList<ParameterSpec> parameters, Func<double[], double> objective)
    {
        var tpe = new double[Seeds];
        var random = new double[Seeds];
        for (int seed = 0; seed < Seeds; seed++)
        {
            tpe[seed] = BestOf(Tpe(seed + 1), parameters, objective);
            random[seed] = BestOf(new SearchSpec { Algorithm = SearchAlgorithms.Random, Seed = seed + 1 }, parameters, objective);
        }
        Array.Sort(tpe);
        Array.Sort(random);
        return ((tpe[4] + tpe[5]) / 2, (random[4] + random[5]) / 2);
    }

    [Fact]
    public void Tpe_beats_random_search_on_a_quadratic_over_50_trials_median_of_10_seeds()
    {
        var (tpe, random) = MedianBests([Spaces.Uniform("x", -1, 1), Spaces.Uniform("y", -1, 1)], Quadratic);
        Assert.True(tpe < random, $"median best: tpe {tpe}, random {random}");
    }

    [Fact]
    public void Tpe_beats_random_search_on_branin_over_50_trials_median_of_10_seeds()
    {
        var (tpe, random) = MedianBests([Spaces.Uniform("x1", -5, 10), Spaces.Uniform("x2", 0, 15)], Branin);
        Assert.True(tpe < random, $"median best: tpe {tpe}, random {random}");
    }

    [Fact]
    public void Startup_trials_are_the_random_searchers_points()
    {
        var tpe = SearcherFactory.Create(Tpe(5), Spaces.Mixed());
        var random = SearcherFactory.Create(new SearchSpec { Algorithm = SearchAlgorithms.Random, Seed = 5 }, Spaces.Mixed());
        for (int t = 0; t < 10; t++)
        {
            Assert.Equal(random.Suggest(t), tpe.Suggest(t));
            tpe.Observe(t, t);
        }
        Assert.NotEqual(random.Suggest(10), tpe.Suggest(10));
    }

    [Fact]
    public void Pending_trials_get_distinct_suggestions()
    {
        var searcher = SearcherFactory.Create(Tpe(3), [Spaces.Uniform("x", -1, 1), Spaces.Int("n", 1, 4), Spaces.Categorical("c", "a", "b", "c")]);
        for (int t = 0; t < 20; t++)
        {
            var p = searcher.Suggest(t)!;
            searcher.Observe(t, Math.Abs(p[0]));
        }
        var pending = new List<double[]>();
        for (int t = 20; t < 28; t++) pending.Add(searcher.Suggest(t)!);
        for (int i = 0; i < pending.Count; i++)
            for (int j = i + 1; j < pending.Count; j++)
                Assert.NotEqual(pending[i], pending[j]);
    }

    [Fact]
    public void Constant_liar_spreads_pending_suggestions_away_from_each_other()
    {
        // With results only near x = 0 being good, eight simultaneous asks should not all crowd one spot:
        // the pending ones count as bad, so later asks move off the earlier ones. Measured over seeds 1-10: spans
        // of 0.30-1.18 with the liar, 0.03-0.08 without it (fresh random streams alone).
        var searcher = SearcherFactory.Create(Tpe(9), [Spaces.Uniform("x", -1, 1)]);
        for (int t = 0; t < 30; t++) searcher.Observe(t, Math.Abs(searcher.Suggest(t)![0]));
        var xs = new double[8];
        for (int i = 0; i < xs.Length; i++) xs[i] = searcher.Suggest(30 + i)![0];
        Array.Sort(xs);
        Assert.True(xs[^1] - xs[0] > 0.2, $"pending suggestions span {xs[0]}..{xs[^1]}");
    }

    [Fact]
    public void Suggestions_respect_every_parameter_type()
    {
        var searcher = SearcherFactory.Create(Tpe(2), Spaces.Mixed());
        for (int t = 0; t < 60; t++)
        {
            var p = searcher.Suggest(t)!;
            Assert.InRange(p[0], 0.0, 0.5);
            Assert.InRange(p[1], 1e-5, 1e-2);
            Assert.InRange(p[2], 16, 128);
            Assert.Equal(Math.Round(p[2]), p[2]);
            Assert.Contains(p[3], new[] { 0.0, 1.0, 2.0 });
            searcher.Observe(t, p[0] + Math.Abs(Math.Log10(p[1]) + 3) + Math.Abs(p[2] - 40) / 100 + (p[3] == 1 ? 0 : 1));
        }
    }

    [Fact]
    public void Tpe_learns_the_best_choice_of_a_categorical_and_the_best_int()
    {
        var searcher = SearcherFactory.Create(Tpe(4), [Spaces.Categorical("c", "a", "b", "c", "d"), Spaces.Int("n", 0, 20)]);
        int bestChoice = 0, bestInt = 0;
        for (int t = 0; t < 60; t++)
        {
            var p = searcher.Suggest(t)!;
            if (t >= 30 && p[0] == 2) bestChoice++;
            if (t >= 30 && Math.Abs(p[1] - 7) <= 2) bestInt++;
            searcher.Observe(t, (p[0] == 2 ? 0 : 1) + Math.Abs(p[1] - 7) / 10);
        }
        // Random would pick the best choice about 1/4 of the time and n within 7 ± 2 about 5/21.
        Assert.True(bestChoice > 15, $"best choice in {bestChoice} of the last 30");
        Assert.True(bestInt > 15, $"n near 7 in {bestInt} of the last 30");
    }

    [Fact]
    public void Failed_trials_are_remembered_but_do_not_count_as_finished()
    {
        var search = Tpe(6) with { StartupTrials = 3 };
        var searcher = (TpeSearcher)SearcherFactory.Create(search, Spaces.Mixed());
        var random = SearcherFactory.Create(new SearchSpec { Algorithm = SearchAlgorithms.Random, Seed = 6 }, Spaces.Mixed());
        var first = searcher.Suggest(0);
        searcher.Observe(0, null);
        searcher.Suggest(1);
        searcher.Observe(1, double.NaN);
        Assert.Equal(0, searcher.CompletedCount);
        // Still in the start-up phase: failures do not advance it.
        for (int t = 2; t < 5; t++) Assert.Equal(random.Suggest(t), searcher.Suggest(t));
        var restored = SearcherFactory.Restore(search, Spaces.Mixed(), searcher.SaveState());
        Assert.Equal(first, restored.Suggest(0));
    }

    [Fact]
    public void Asking_again_for_a_suggested_trial_returns_the_same_point()
    {
        var searcher = SearcherFactory.Create(Tpe(8) with { StartupTrials = 2 }, Spaces.Mixed());
        for (int t = 0; t < 5; t++) searcher.Observe(t, searcher.Suggest(t)![0]);
        var again = searcher.Suggest(5);
        searcher.Observe(3, 0.0);
        Assert.Equal(again, searcher.Suggest(5));
    }

    [Fact]
    public void Observing_a_trial_never_suggested_is_rejected()
    {
        var searcher = SearcherFactory.Create(Tpe(1), Spaces.Mixed());
        Assert.Contains("trial 3", Assert.Throws<ArgumentException>(() => searcher.Observe(3, 1.0)).Message);
    }

    [Fact]
    public void Restored_tpe_with_pending_and_failed_trials_makes_the_same_suggestions_as_an_uninterrupted_one()
    {
        var parameters = Spaces.Mixed();
        var search = Tpe(12) with { StartupTrials = 5 };
        static double Loss(double[] p) => Math.Abs(p[0] - 0.1) + Math.Abs(Math.Log10(p[1]) + 3.5) + (p[3] == 2 ? 0 : 0.5);

        ISearcher Run(bool restoreMidway)
        {
            var searcher = SearcherFactory.Create(search, parameters);
            var pending = new Queue<(int Trial, double[] Point)>();
            for (int t = 0; t < 40; t++)
            {
                if (restoreMidway && t == 20) searcher = SearcherFactory.Restore(search, parameters, searcher.SaveState());
                pending.Enqueue((t, searcher.Suggest(t)!));
                if (pending.Count > 3)
                {
                    var (trial, point) = pending.Dequeue();
                    searcher.Observe(trial, trial % 7 == 0 ? null : Loss(point)); // three workers, some failures
                }
            }
            return searcher;
        }

        var uninterrupted = Run(false);
        var restored = Run(true);
        Assert.Equal(uninterrupted.SaveState(), restored.SaveState());
        for (int t = 40; t < 45; t++) Assert.Equal(uninterrupted.Suggest(t), restored.Suggest(t));
    }
}
