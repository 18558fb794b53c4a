using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

public sealed class SearchSpaceTests
{
    [Fact]
    public void Samples_stay_in_range_with_whole_ints_and_valid_choice_indices()
    {
        var space = new SearchSpace(Spaces.Mixed());
        var random = new DeterministicRandom(7);
        for (int n = 0; n < 2000; n++)
        {
            var p = space.Sample(random);
            Assert.InRange(p[0], 0.0, 0.5);
            Assert.InRange(p[1], 1e-5, 1e-2);
            Assert.InRange(p[2], 16, 128);
            Assert.Equal(Math.Round(p[2]), p[2]);
            Assert.Contains(p[3], new[] { 0.0, 1.0, 2.0 });
        }
    }

    [Fact]
    public void Log_uniform_is_sampled_uniformly_in_log_space()
    {
        // Over [1e-5, 1e-2] each decade should get about a third of the draws; uniform in value would put
        // about 99% into the top decade.
        var space = new SearchSpace([Spaces.Log("lr", 1e-5, 1e-2)]);
        var random = new DeterministicRandom(3);
        int[] decades = new int[3];
        const int draws = 30_000;
        for (int n = 0; n < draws; n++) decades[Math.Min(2, (int)Math.Floor(Math.Log10(space.Sample(random)[0]) + 5))]++;
        foreach (int count in decades) Assert.InRange(count, draws / 3 - 600, draws / 3 + 600);
    }

    [Fact]
    public void Int_sampling_reaches_both_ends_of_the_inclusive_range()
    {
        var space = new SearchSpace([Spaces.Int("layers", 1, 3)]);
        var random = new DeterministicRandom(11);
        var seen = new HashSet<double>();
        for (int n = 0; n < 200; n++) seen.Add(space.Sample(random)[0]);
        Assert.Equal(new HashSet<double> { 1, 2, 3 }, seen);
    }

    [Fact]
    public void Clamp_rounds_ints_and_choice_indices_and_bounds_every_value()
    {
        var space = new SearchSpace(Spaces.Mixed());
        Assert.Equal([0.5, 1e-5, 128, 0], space.Clamp([0.9, 1e-9, 200.4, -3]));
        Assert.Equal([0.0, 1e-2, 17, 2], space.Clamp([-1, 5, 16.5, 2.4]));
    }

    [Fact]
    public void Format_gives_invariant_round_trippable_yaml_scalars()
    {
        var space = new SearchSpace(Spaces.Mixed());
        double lr = 0.1 + 0.2 - 0.3 + 1e-4; // a value whose shortest exact text has many digits
        var text = space.Format([0.25, lr, 64, 2]);
        Assert.Equal(["model.dropout", "optimizer.generator.lr", "model.width", "loss.type"], text.Keys);
        Assert.Equal("0.25", text["model.dropout"]);
        Assert.Equal(lr, double.Parse(text["optimizer.generator.lr"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("64", text["model.width"]);
        Assert.Equal("wgan_gp", text["loss.type"]);
    }

    [Theory]
    [InlineData("uniform", null, 1.0, "needs both min and max")]
    [InlineData("log_uniform", 0.0, 1.0, "needs min > 0")]
    [InlineData("uniform", 2.0, 1.0, "min <= max")]
    [InlineData("int", 1.2, 1.8, "no whole number")]
    [InlineData("gaussian", 0.0, 1.0, "unknown type 'gaussian'")]
    public void Invalid_parameters_are_rejected_naming_the_parameter_and_the_problem(string type, double? min, double? max, string problem)
    {
        var e = Assert.Throws<ArgumentException>(() => new SearchSpace([new ParameterSpec { Name = "a.b", Type = type, Min = min, Max = max }]));
        Assert.Contains("'a.b'", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Categorical_without_values_and_duplicate_names_are_rejected()
    {
        Assert.Contains("no values", Assert.Throws<ArgumentException>(() => new SearchSpace([Spaces.Categorical("c")])).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() =>
            new SearchSpace([Spaces.Uniform("x", 0, 1), Spaces.Uniform("x", 0, 1)])).Message);
    }

    [Fact]
    public void Random_streams_are_reproducible_and_distinct_per_index()
    {
        var a = DeterministicRandom.ForStream(1, 5);
        var b = DeterministicRandom.ForStream(1, 5);
        var c = DeterministicRandom.ForStream(1, 6);
        var d = DeterministicRandom.ForStream(2, 5);
        ulong first = a.NextUInt64();
        Assert.Equal(first, b.NextUInt64());
        Assert.NotEqual(first, c.NextUInt64());
        Assert.NotEqual(first, d.NextUInt64());
    }

    [Fact]
    public void Random_generator_output_is_pinned_so_a_runtime_upgrade_cannot_change_a_search()
    {
        // xoshiro256** seeded by SplitMix64(0): the reference implementation's first outputs.
        var random = new DeterministicRandom(0);
        Assert.Equal(0x99EC5F36CB75F2B4UL, random.NextUInt64());
        Assert.Equal(0xBF6E1F784956452AUL, random.NextUInt64());
    }
}
