using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class EarlyStopperTests
{
    private static readonly StopDecision Go = StopDecision.Continue;
    private static readonly StopDecision Stop = StopDecision.Stop;

    [Fact]
    public void Asha_decisions_match_a_hand_computed_worked_example()
    {
        // η = 3, min 100, max 2700: rungs at 100, 300, 900 (2700 is the end, no decision there).
        // A trial continues at a rung if its value <= the 1/3 quantile (linear interpolation) of the values
        // recorded there before it; the first arrival always continues; every arrival is recorded.
        var asha = (AshaStopper)EarlyStopperFactory.Create(
            new EarlyStoppingSpec { Algorithm = EarlyStoppingAlgorithms.Asha, MinResource = 100, ReductionFactor = 3 }, 2700);
        Assert.Equal([100, 300, 900], asha.Rungs);

        // Rung 100.
        Assert.Equal(Go, asha.Report(0, 50, 9.0));    // below the first rung: no decision
        Assert.Equal(Go, asha.Report(0, 100, 5.0));   // recorded {}        -> first arrival
        Assert.Equal(Go, asha.Report(1, 100, 3.0));   // recorded {5}       -> cutoff 5; 3 <= 5
        Assert.Equal(Stop, asha.Report(2, 100, 7.0)); // recorded {3,5}     -> pos 1/3: 3 + (5-3)/3 = 3.667; 7 > 3.667
        Assert.Equal(Go, asha.Report(3, 100, 4.0));   // recorded {3,5,7}   -> pos 2/3: 3 + (5-3)·2/3 = 4.333; 4 <= 4.333
        Assert.Equal(Stop, asha.Report(4, 100, 4.5)); // recorded {3,4,5,7} -> pos 1: 4; 4.5 > 4
        Assert.Equal(Go, asha.Report(5, 120, 2.0));   // first report past 100 judges rung 100: {3,4,4.5,5,7} pos 4/3: 4.167; 2 <= 4.167

        // Rung 300 (the same trials, further on).
        Assert.Equal(Go, asha.Report(1, 300, 2.5));   // first arrival
        Assert.Equal(Go, asha.Report(0, 200, 4.0));   // between rungs: 100 already judged, keeps going
        Assert.Equal(Stop, asha.Report(0, 300, 4.0)); // recorded {2.5} -> cutoff 2.5; 4 > 2.5
        Assert.Equal(Go, asha.Report(5, 300, 1.0));   // recorded {2.5,4} -> pos 1/3: 2.5 + 1.5/3 = 3; 1 <= 3
        Assert.Equal(Stop, asha.Report(3, 300, 3.1)); // recorded {1,2.5,4} -> pos 2/3: 1 + 1.5·2/3 = 2; 3.1 > 2

        // Rung 900: trial 1 jumps from 300 straight to 1000, judged at 900 only.
        Assert.Equal(Go, asha.Report(1, 1000, 2.0));  // first arrival at 900
        Assert.Equal(Stop, asha.Report(5, 900, 2.2)); // recorded {2} -> 2.2 > 2
        Assert.Equal(Go, asha.Report(1, 2700, 1.9));  // past every rung, already judged at 900

        // Stopped trials stay stopped.
        Assert.Equal(Stop, asha.Report(2, 300, 0.0));
    }

    [Fact]
    public void Hyperband_bracket_sizes_match_the_formula_for_r_81_eta_3()
    {
        // Li et al. 2018, Table 1 (R = 81, η = 3): (n_i, r_i) per bracket s = 4..0.
        var hyperband = (HyperbandStopper)EarlyStopperFactory.Create(
            new EarlyStoppingSpec { Algorithm = EarlyStoppingAlgorithms.Hyperband, MinResource = 1, MaxResource = 81, ReductionFactor = 3 }, 1000);
        Assert.Equal(
            [new BracketInfo(4, 81, 1), new BracketInfo(3, 34, 3), new BracketInfo(2, 15, 9), new BracketInfo(1, 8, 27), new BracketInfo(0, 5, 81)],
            hyperband.Brackets);
    }

    [Fact]
    public void Hyperband_scales_brackets_to_steps_and_limits_them_on_request()
    {
        var hyperband = new HyperbandStopper(minResource: 100, maxResource: 8100, reductionFactor: 3, brackets: 3);
        Assert.Equal([new BracketInfo(4, 81, 100), new BracketInfo(3, 34, 300), new BracketInfo(2, 15, 900)], hyperband.Brackets);
        Assert.Throws<ArgumentException>(() => new HyperbandStopper(100, 8100, 3, brackets: 6));
    }

    [Fact]
    public void Hyperband_deals_trials_to_brackets_in_proportion_to_their_sizes_at_every_prefix()
    {
        var hyperband = new HyperbandStopper(1, 81, 3, brackets: null);
        var counts = new int[5];
        for (int t = 0; t < 143; t++)
        {
            counts[hyperband.BracketOf(t)]++;
            if (t == 28) Assert.Equal(new[] { 16, 7, 3, 2, 1 }, counts); // 29 trials ≈ 29/143 of (81, 34, 15, 8, 5)
        }
        Assert.Equal(new[] { 81, 34, 15, 8, 5 }, counts);
    }

    [Fact]
    public void Hyperband_never_stops_trials_of_the_full_budget_bracket()
    {
        var hyperband = new HyperbandStopper(1, 81, 3, brackets: null);
        for (int t = 0; t < 143; t++)
        {
            if (hyperband.BracketOf(t) != 4) continue;
            for (int step = 1; step <= 81; step++) Assert.Equal(Go, hyperband.Report(t, step, 100 - t)); // worse and worse
        }
    }

    [Fact]
    public void Median_rule_stops_a_trial_whose_best_is_worse_than_the_median_of_running_averages()
    {
        var median = EarlyStopperFactory.Create(
            new EarlyStoppingSpec { Algorithm = EarlyStoppingAlgorithms.Median, MinResource = 20, MinTrials = 3 }, 100);
        // Trials 0-2 report at 10, 20, 30: running averages at 20: (4+2)/2 = 3, (6+4)/2 = 5, (8+6)/2 = 7 -> median 5.
        double[][] values = [[4, 2, 1], [6, 4, 3], [8, 6, 5]];
        for (int t = 0; t < 3; t++)
            for (int i = 0; i < 3; i++) Assert.Equal(Go, median.Report(t, 10 * (i + 1), values[t][i])); // fewer than 3 others reach a step while they run
        Assert.Equal(Go, median.Report(3, 10, 50));   // before min_resource
        Assert.Equal(Go, median.Report(3, 20, 5.0));  // best 5 is not strictly worse than the median 5
        // Others at 20 now include trial 3, running average (50+5)/2 = 27.5: median of {3, 5, 7, 27.5} = 6.
        Assert.Equal(Stop, median.Report(4, 20, 6.5)); // best 6.5 > 6
        Assert.Equal(Stop, median.Report(4, 30, 0.0)); // stopped stays stopped
        // The rule judges the best value so far: a bad report after a good one does not stop.
        Assert.Equal(Go, median.Report(5, 10, 1.0));
        Assert.Equal(Go, median.Report(5, 20, 9.0));  // best 1 < median of {3, 5, 6.5, 7, 27.5} = 6.5
    }

    [Fact]
    public void Median_rule_waits_for_min_trials_that_reached_the_step()
    {
        var median = new MedianStopper(minResource: 0, minTrials: 2);
        Assert.Equal(Go, median.Report(0, 10, 1.0));
        Assert.Equal(Go, median.Report(1, 10, 2.0));
        Assert.Equal(Go, median.Report(2, 20, 100)); // nobody else has reached step 20
        Assert.Equal(Stop, median.Report(3, 10, 100)); // three others reached 10: median of {1, 2, 100} = 2
    }

    [Fact]
    public void Diverged_values_count_as_the_worst()
    {
        var asha = new AshaStopper(10, 1000, 2);
        Assert.Equal(Go, asha.Report(0, 10, 1.0));
        Assert.Equal(Stop, asha.Report(1, 10, double.NaN));
        var restored = AshaStopper.Restore(10, 1000, 2, asha.SaveState());
        // The diverged value was kept (through the JSON state) as the worst: {1, +inf} puts 1.5 in the top half.
        // Had it been dropped, the cutoff would be 1 and 1.5 would stop.
        Assert.Equal(Go, restored.Report(2, 10, 1.5));
    }

    [Fact]
    public void Unknown_algorithm_and_mismatched_state_are_rejected_by_name()
    {
        Assert.Contains("'bohb'", Assert.Throws<ArgumentException>(() =>
            EarlyStopperFactory.Create(new EarlyStoppingSpec { Algorithm = "bohb" }, 100)).Message);
        var spec = new EarlyStoppingSpec { Algorithm = EarlyStoppingAlgorithms.Asha, MinResource = 10 };
        var state = EarlyStopperFactory.Create(spec, 1000).SaveState();
        Assert.Contains("rungs", Assert.Throws<SearchStateException>(() =>
            EarlyStopperFactory.Restore(spec with { ReductionFactor = 2 }, 1000, state)).Message);
        Assert.Contains("'asha'", Assert.Throws<SearchStateException>(() =>
            EarlyStopperFactory.Restore(spec with { Algorithm = EarlyStoppingAlgorithms.Hyperband }, 1000, state)).Message);
        Assert.Throws<SearchStateException>(() => EarlyStopperFactory.Restore(spec, 1000, "{\"algorithm\":\"asha\""));
    }

    [Fact]
    public void Asha_takes_the_trials_steps_when_the_spec_sets_no_max_resource()
    {
        var asha = (AshaStopper)EarlyStopperFactory.Create(new EarlyStoppingSpec { Algorithm = EarlyStoppingAlgorithms.Asha, MinResource = 100 }, 1000);
        Assert.Equal([100, 300, 900], asha.Rungs);
    }
}
