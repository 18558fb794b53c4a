using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Benchmarks;

/// <summary>
/// searcher_cost: how long TPE takes to make a suggestion once 1,000 trials have finished (target &lt; 50 ms; Optuna
/// users report 8-9 suggestions/s at that size), with the bytes it allocates per suggestion and the cost of
/// persisting and restoring its state; and the search quality check of the tests, TPE against random search on a
/// quadratic and on Branin over 50 trials, as medians of the best value over 10 seeds.
/// </summary>
public static class SearcherCost
{
    public static int Run(string[] args)
    {
        int finished = Options.Int(args, "--finished", 1000);
        int samples = Options.Int(args, "--samples", 50);
        Console.WriteLine($"searcher_cost: TPE suggestion time after {finished} finished trials over a 6-parameter space " +
            $"(2 uniform, 2 log_uniform, 1 int, 1 categorical), median of {samples} suggestions; then TPE vs random, 50 trials x 10 seeds");

        var cost = MeasureSuggest(finished, samples);
        var (tpe, search, parameters, trial) = (cost.Searcher, cost.Search, cost.Parameters, cost.NextTrial);
        double median = cost.MedianMs, p95 = cost.P95Ms;
        long bytesPerSuggest = cost.BytesPerSuggest;
        Console.WriteLine($"  tpe suggest at {tpe.CompletedCount} finished: median {median:F2} ms, p95 {p95:F2} ms, {bytesPerSuggest} bytes allocated per suggestion");

        var watchState = Stopwatch.StartNew();
        string state = tpe.SaveState();
        double saveMs = watchState.Elapsed.TotalMilliseconds;
        watchState.Restart();
        var restored = SearcherFactory.Restore(search, parameters, state);
        double restoreMs = watchState.Elapsed.TotalMilliseconds;
        bool sameNext = restored.Suggest(trial)!.AsSpan().SequenceEqual(tpe.Suggest(trial));
        Console.WriteLine($"  state: {state.Length} chars, save {saveMs:F1} ms, restore {restoreMs:F1} ms, restored next suggestion identical: {sameNext}");

        var (tpeQuadratic, randomQuadratic) = MedianBests(
            [Uniform("x", -1, 1), Uniform("y", -1, 1)],
            p => (p[0] - 0.3) * (p[0] - 0.3) + (p[1] + 0.2) * (p[1] + 0.2));
        Console.WriteLine($"  quadratic (x-0.3)^2+(y+0.2)^2 on [-1,1]^2, median best of 10 seeds: tpe {tpeQuadratic:G4}, random {randomQuadratic:G4}");
        var (tpeBranin, randomBranin) = MedianBests([Uniform("x1", -5, 10), Uniform("x2", 0, 15)], Branin);
        Console.WriteLine($"  branin (minimum 0.397887), median best of 10 seeds: tpe {tpeBranin:G6}, random {randomBranin:G6}");

        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["tpe_suggest_ms_at_1000"] = Math.Round(median, 3),
            ["tpe_suggest_p95_ms_at_1000"] = Math.Round(p95, 3),
            ["tpe_suggest_bytes_at_1000"] = bytesPerSuggest,
            ["tpe_state_chars_at_1000"] = state.Length,
            ["tpe_state_save_ms"] = Math.Round(saveMs, 2),
            ["tpe_state_restore_ms"] = Math.Round(restoreMs, 2),
            ["tpe_restore_same_next"] = sameNext,
            ["tpe_quadratic_median_best"] = tpeQuadratic,
            ["random_quadratic_median_best"] = randomQuadratic,
            ["tpe_branin_median_best"] = tpeBranin,
            ["random_branin_median_best"] = randomBranin,
        }));
        return sameNext ? 0 : 1;
    }

    /// <summary>What one TPE suggestion costs, and the searcher it was measured on (for the state round trip).</summary>
    /// <param name="MedianMs">Median time of one suggestion.</param>
    /// <param name="P95Ms">95th percentile of the suggestion times.</param>
    /// <param name="BytesPerSuggest">Managed bytes allocated per suggestion.</param>
    /// <param name="NextTrial">The first trial number the searcher has not seen.</param>
    public sealed record SuggestCost(double MedianMs, double P95Ms, long BytesPerSuggest, TpeSearcher Searcher, SearchSpec Search,
        IReadOnlyList<ParameterSpec> Parameters, int NextTrial);

    /// <summary>
    /// TPE's suggestion time once <paramref name="finished"/> trials have finished over a 6-parameter space, median of
    /// <paramref name="samples"/> suggestions; also the `tpe_suggest_ms_at_1000` of search_quality.
    /// </summary>
    public static SuggestCost MeasureSuggest(int finished, int samples)
    {
        IReadOnlyList<ParameterSpec> parameters =
        [
            new() { Name = "model.dropout", Type = ParameterTypes.Uniform, Min = 0, Max = 0.5 },
            new() { Name = "optimizer.beta1", Type = ParameterTypes.Uniform, Min = 0, Max = 0.9 },
            new() { Name = "optimizer.generator.lr", Type = ParameterTypes.LogUniform, Min = 1e-5, Max = 1e-2 },
            new() { Name = "optimizer.discriminator.lr", Type = ParameterTypes.LogUniform, Min = 1e-5, Max = 1e-2 },
            new() { Name = "model.features", Type = ParameterTypes.Int, Min = 16, Max = 128 },
            new() { Name = "loss.type", Type = ParameterTypes.Categorical, Values = ["non_saturating", "hinge", "wgan_gp"] },
        ];
        static double Objective(double[] p) =>
            (p[0] - 0.1) * (p[0] - 0.1) + (p[1] - 0.5) * (p[1] - 0.5) + Math.Abs(Math.Log10(p[2]) + 3.7) +
            Math.Abs(Math.Log10(p[3]) + 3.3) + Math.Abs(p[4] - 64) / 64 + (p[5] == 1 ? 0 : 0.3);

        // The first `finished` trials are start-up (random) trials so that building the history is quick; the
        // model then fits all of them for every measured suggestion.
        var search = new SearchSpec { Algorithm = SearchAlgorithms.Tpe, Seed = 1, StartupTrials = finished };
        var tpe = (TpeSearcher)SearcherFactory.Create(search, parameters);
        int trial = 0;
        for (; trial < finished; trial++) tpe.Observe(trial, Objective(tpe.Suggest(trial)!));

        // Warm-up (JIT), then measure. Measured trials are then reported as failed: remembered, but neither ranked
        // nor pending, so every measurement fits exactly `finished` trials.
        for (int i = 0; i < 5; i++, trial++)
        {
            tpe.Suggest(trial);
            tpe.Observe(trial, null);
        }
        var times = new double[samples];
        long allocated = 0;
        for (int i = 0; i < samples; i++, trial++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            tpe.Suggest(trial);
            times[i] = watch.Elapsed.TotalMilliseconds;
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            tpe.Observe(trial, null);
        }
        Array.Sort(times);
        return new SuggestCost(times[samples / 2], times[(int)(samples * 0.95)], allocated / samples, tpe, search, parameters, trial);
    }

    private static ParameterSpec Uniform(string name, double min, double max) =>
        new() { Name = name, Type = ParameterTypes.Uniform, Min = min, Max = max };

    private static double Branin(double[] p)
    {
        double x1 = p[0], x2 = p[1];
        double b = 5.1 / (4 * Math.PI * Math.PI), c = 5 / Math.PI, t = 1 / (8 * Math.PI);
        return Math.Pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * Math.Cos(x1) + 10;
    }

    private static (double Tpe, double Random) MedianBests(IReadOnlyList<ParameterSpec> parameters, Func<double[], double> objective)
    {
        var tpe = new double[10];
        var random = new double[10];
        for (int seed = 1; seed <= 10; seed++)
        {
            tpe[seed - 1] = BestOf(new SearchSpec { Algorithm = SearchAlgorithms.Tpe, Seed = seed }, parameters, objective);
            random[seed - 1] = BestOf(new SearchSpec { Algorithm = SearchAlgorithms.Random, Seed = seed }, parameters, objective);
        }
        Array.Sort(tpe);
        Array.Sort(random);
        return ((tpe[4] + tpe[5]) / 2, (random[4] + random[5]) / 2);
    }

    private static double BestOf(SearchSpec search, IReadOnlyList<ParameterSpec> parameters, Func<double[], double> objective)
    {
        var searcher = SearcherFactory.Create(search, parameters);
        double best = double.PositiveInfinity;
        for (int t = 0; t < 50; t++)
        {
            double loss = objective(searcher.Suggest(t)!);
            best = Math.Min(best, loss);
            searcher.Observe(t, loss);
        }
        return best;
    }
}
