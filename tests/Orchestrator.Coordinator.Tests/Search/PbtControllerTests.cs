using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class PbtControllerTests
{
    private static readonly SearchSpec Pbt = new()
    {
        Algorithm = SearchAlgorithms.Pbt,
        Seed = 7,
        Population = 4,
        ReadyInterval = 500,
        Quantile = 0.25,
        ResampleProbability = 0.25,
        PerturbFactors = [0.8, 1.2],
    };

    private static PbtController NewPopulation(SearchSpec search, out double[][] starts)
    {
        var space = new SearchSpace(Spaces.Mixed());
        var pbt = new PbtController(space, search);
        var random = new RandomSearcher(space, search.Seed);
        starts = new double[search.Population][];
        for (int t = 0; t < search.Population; t++)
        {
            starts[t] = random.Suggest(t)!;
            pbt.AddMember(t, starts[t]);
        }
        // Everyone reports once before the first ready point, so rankings cover the whole population.
        for (int t = 0; t < search.Population; t++) Assert.Equal(PbtDecision.Continue, pbt.Report(t, 100, t + 1.0, hasCheckpoint: false));
        return pbt;
    }

    [Fact]
    public void Bottom_member_copies_the_latest_checkpoint_of_the_top_member_and_records_lineage()
    {
        var pbt = NewPopulation(Pbt, out var starts);
        Assert.Equal(PbtDecision.Continue, pbt.Report(0, 500, 1.0, hasCheckpoint: true));  // top
        Assert.Equal(PbtDecision.Continue, pbt.Report(0, 600, 0.5, hasCheckpoint: false)); // not ready; newest checkpoint still 500
        Assert.Equal(PbtDecision.Continue, pbt.Report(1, 500, 2.0, hasCheckpoint: true));
        Assert.Equal(PbtDecision.Continue, pbt.Report(2, 500, 3.0, hasCheckpoint: true));
        var decision = pbt.Report(3, 500, 4.0, hasCheckpoint: true);                        // bottom

        Assert.Equal(PbtAction.Exploit, decision.Action);
        Assert.Equal(0, decision.SourceTrial);
        Assert.Equal(500, decision.SourceCheckpointStep);
        Assert.Equal(decision.NewPoint, pbt.PointOf(3));
        var entry = Assert.Single(pbt.LineageOf(3));
        Assert.Equal((3, 500, 0, 500), (entry.Trial, entry.Step, entry.SourceTrial, entry.SourceCheckpointStep));
        Assert.Equal(starts[3], entry.OldPoint);
        Assert.Equal(decision.NewPoint, entry.NewPoint);
        Assert.Single(pbt.Lineage);
        Assert.Empty(pbt.LineageOf(0));
    }

    [Fact]
    public void A_bottom_member_tied_with_the_top_continues_instead_of_copying_it()
    {
        // As early in a GAN sweep on high-quality fraction: everyone still at the same value.
        var pbt = NewPopulation(Pbt, out _);
        for (int t = 0; t < 3; t++) Assert.Equal(PbtDecision.Continue, pbt.Report(t, 500, 0.0, hasCheckpoint: true));
        Assert.Equal(PbtDecision.Continue, pbt.Report(3, 500, 0.0, hasCheckpoint: true));
        Assert.Empty(pbt.LineageOf(3));

        // Once a member pulls ahead, the bottom one copies it at its next ready point.
        pbt.Report(0, 1000, -0.4, hasCheckpoint: true);
        var decision = pbt.Report(3, 1000, 0.0, hasCheckpoint: true);
        Assert.Equal(PbtAction.Exploit, decision.Action);
        Assert.Equal(0, decision.SourceTrial);
    }

    [Fact]
    public void Explore_multiplies_the_copied_parameters_by_a_perturb_factor_within_range()
    {
        var search = Pbt with { ResampleProbability = 0 };
        for (int seed = 1; seed <= 10; seed++)
        {
            var pbt = NewPopulation(search with { Seed = seed }, out var starts);
            for (int t = 0; t < 3; t++) pbt.Report(t, 500, t + 1.0, hasCheckpoint: true);
            var decision = pbt.Report(3, 500, 9.0, hasCheckpoint: true);
            var source = starts[decision.SourceTrial!.Value];
            var space = new SearchSpace(Spaces.Mixed());
            for (int i = 0; i < 3; i++) // uniform, log_uniform, int
            {
                double low = space.Clamp(i, source[i] * 0.8), high = space.Clamp(i, source[i] * 1.2);
                Assert.True(decision.NewPoint![i] == low || decision.NewPoint[i] == high,
                    $"seed {seed}, parameter {i}: {decision.NewPoint[i]} is neither {low} nor {high}");
            }
            Assert.Equal(source[3], decision.NewPoint![3]); // categorical kept when not resampled
        }
    }

    [Fact]
    public void Resampling_draws_new_values_from_the_range_including_categoricals()
    {
        var pbt = NewPopulation(Pbt with { ResampleProbability = 1 }, out var starts);
        for (int t = 0; t < 3; t++) pbt.Report(t, 500, t + 1.0, hasCheckpoint: true);
        var point = pbt.Report(3, 500, 9.0, hasCheckpoint: true).NewPoint!;
        Assert.Equal(point, new SearchSpace(Spaces.Mixed()).Clamp(point));
        Assert.NotEqual(starts[0][0], point[0]);
        Assert.NotEqual(starts[0][0] * 0.8, point[0]);
        Assert.NotEqual(starts[0][0] * 1.2, point[0]);
    }

    [Fact]
    public void A_member_without_a_checkpoint_is_never_exploited()
    {
        // Quantile 0.5 of 4: top two are 0 (no checkpoint ever) and 1 (checkpoint); the bottom always copies 1.
        for (int seed = 1; seed <= 20; seed++)
        {
            var pbt = NewPopulation(Pbt with { Seed = seed, Quantile = 0.5 }, out _);
            pbt.Report(0, 500, 1.0, hasCheckpoint: false);
            pbt.Report(1, 500, 2.0, hasCheckpoint: true);
            var decision = pbt.Report(3, 500, 4.0, hasCheckpoint: true); // bottom two: 2 (3.0 at step 100) and 3
            Assert.Equal(PbtAction.Exploit, decision.Action);
            Assert.Equal(1, decision.SourceTrial);
        }
        // And when no top member has a checkpoint, the bottom member keeps training instead.
        var none = NewPopulation(Pbt, out _);
        none.Report(0, 500, 1.0, hasCheckpoint: false);
        Assert.Equal(PbtDecision.Continue, none.Report(3, 500, 4.0, hasCheckpoint: true));
        Assert.Empty(none.Lineage);
    }

    [Fact]
    public void Members_decide_only_every_ready_interval_counted_from_the_copied_checkpoint()
    {
        var pbt = NewPopulation(Pbt, out _);
        pbt.Report(0, 400, 1.0, hasCheckpoint: true);
        Assert.Equal(PbtDecision.Continue, pbt.Report(3, 499, 9.0, hasCheckpoint: true)); // not ready yet
        var decision = pbt.Report(3, 500, 9.0, hasCheckpoint: true);
        Assert.Equal(400, decision.SourceCheckpointStep);
        // It resumes at step 400 from the copy: next decision at 900, and its own value is unknown until it reports.
        pbt.Report(0, 800, 1.0, hasCheckpoint: true);
        Assert.Equal(PbtDecision.Continue, pbt.Report(3, 899, 9.0, hasCheckpoint: false));
        Assert.Equal(PbtAction.Exploit, pbt.Report(3, 900, 9.0, hasCheckpoint: false).Action);
        Assert.Equal(2, pbt.LineageOf(3).Count);
    }

    [Fact]
    public void Restored_controller_keeps_perturbed_parameters_and_lineage()
    {
        var pbt = NewPopulation(Pbt, out _);
        for (int t = 0; t < 3; t++) pbt.Report(t, 500, t + 1.0, hasCheckpoint: true);
        var decision = pbt.Report(3, 500, 9.0, hasCheckpoint: true);

        var restored = PbtController.Restore(new SearchSpace(Spaces.Mixed()), Pbt, pbt.SaveState());
        Assert.Equal(decision.NewPoint, restored.PointOf(3));
        var entry = Assert.Single(restored.Lineage);
        Assert.Equal(pbt.Lineage[0].OldPoint, entry.OldPoint);
        Assert.Equal(pbt.Lineage[0].NewPoint, entry.NewPoint);
        Assert.Equal((3, 500, 0, 500), (entry.Trial, entry.Step, entry.SourceTrial, entry.SourceCheckpointStep));
        Assert.Equal(pbt.SaveState(), restored.SaveState());
    }

    [Fact]
    public void Invalid_settings_and_unknown_members_are_rejected()
    {
        var space = new SearchSpace(Spaces.Mixed());
        Assert.Contains("quantile", Assert.Throws<ArgumentException>(() => new PbtController(space, Pbt with { Quantile = 0.7 })).Message);
        Assert.Contains("perturb_factors", Assert.Throws<ArgumentException>(() => new PbtController(space, Pbt with { PerturbFactors = [] })).Message);
        var pbt = new PbtController(space, Pbt);
        Assert.Contains("trial 9", Assert.Throws<ArgumentException>(() => pbt.Report(9, 500, 1.0, true)).Message);
    }
}
