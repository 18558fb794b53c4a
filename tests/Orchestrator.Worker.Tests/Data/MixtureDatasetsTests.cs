using Orchestrator.Worker.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Data;

public sealed class MixtureDatasetsTests
{
    [Fact]
    public void Ring8_has_8_means_on_a_circle_of_radius_2_at_multiples_of_45_degrees_and_std_0_02()
    {
        using var ring = MixtureDatasets.Ring8(100, seed: 1);
        var mixture = ring.Mixture!;

        Assert.Equal(8, mixture.ModeCount);
        Assert.Equal(8, ring.ClassCount);
        Assert.Equal(0.02, mixture.Std);
        for (int k = 0; k < 8; k++)
        {
            double angle = k * Math.PI / 4;
            Assert.Equal(2 * Math.Cos(angle), mixture.Means[k, 0], 12);
            Assert.Equal(2 * Math.Sin(angle), mixture.Means[k, 1], 12);
        }
    }

    [Fact]
    public void Grid25_has_means_on_the_5x5_grid_from_minus_4_to_4_and_std_0_05()
    {
        using var grid = MixtureDatasets.Grid25(100, seed: 1);
        var mixture = grid.Mixture!;

        Assert.Equal(25, mixture.ModeCount);
        Assert.Equal(25, grid.ClassCount);
        Assert.Equal(0.05, mixture.Std);
        var means = Enumerable.Range(0, 25).Select(k => (mixture.Means[k, 0], mixture.Means[k, 1])).ToHashSet();
        double[] axis = [-4, -2, 0, 2, 4];
        var expected = axis.SelectMany(x => axis.Select(y => (x, y))).ToHashSet();
        Assert.Equal(expected, means);
    }

    [Theory]
    [InlineData("ring8")]
    [InlineData("grid25")]
    public void Mixture_points_are_float32_pairs_labelled_with_the_mode_they_were_drawn_from(string name)
    {
        const int count = 20_000;
        using var data = Make(name, count, seed: 7);
        var mixture = data.Mixture!;

        Assert.Equal(new long[] { count, 2 }, data.Inputs.shape);
        Assert.Equal(ScalarType.Float32, data.Inputs.dtype);
        Assert.Equal(new long[] { count }, data.Labels.shape);
        Assert.Equal(ScalarType.Int64, data.Labels.dtype);
        Assert.False(data.IsImage);

        var points = data.Inputs.data<float>().ToArray();
        var labels = data.Labels.data<long>().ToArray();
        var perMode = new int[mixture.ModeCount];
        double sumSquares = 0;
        for (int n = 0; n < count; n++)
        {
            int k = (int)labels[n];
            Assert.InRange(k, 0, mixture.ModeCount - 1);
            perMode[k]++;
            double dx = points[2 * n] - mixture.Means[k, 0], dy = points[2 * n + 1] - mixture.Means[k, 1];
            sumSquares += dx * dx + dy * dy;
            // A 2-D standard normal leaves a radius of 6 with probability e^-18, so this is never a fluke.
            Assert.True(Math.Sqrt(dx * dx + dy * dy) < 6 * mixture.Std, $"point {n} is {Math.Sqrt(dx * dx + dy * dy)} from mode {k}");
        }
        double std = Math.Sqrt(sumSquares / (2.0 * count));
        Assert.InRange(std, 0.97 * mixture.Std, 1.03 * mixture.Std);
        // Modes are equally likely: each gets its share within 15% (the binomial spread is a few percent).
        double share = (double)count / mixture.ModeCount;
        Assert.All(perMode, c => Assert.InRange(c, 0.85 * share, 1.15 * share));
    }

    [Theory]
    [InlineData("ring8")]
    [InlineData("grid25")]
    public void Mixtures_are_identical_for_a_seed_and_differ_between_seeds(string name)
    {
        using var a = Make(name, 1_000, seed: 5);
        using var b = Make(name, 1_000, seed: 5);
        using var c = Make(name, 1_000, seed: 6);

        Assert.Equal(a.Inputs.data<float>().ToArray(), b.Inputs.data<float>().ToArray());
        Assert.Equal(a.Labels.data<long>().ToArray(), b.Labels.data<long>().ToArray());
        Assert.NotEqual(a.Inputs.data<float>().ToArray(), c.Inputs.data<float>().ToArray());
        Assert.NotEqual(a.Labels.data<long>().ToArray(), c.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Mixture_tensors_outlive_the_dispose_scope_they_were_made_in()
    {
        TrainingData data;
        using (NewDisposeScope())
        {
            data = MixtureDatasets.Ring8(10, seed: 1);
        }

        using (data)
        {
            Assert.False(data.Inputs.IsInvalid);
            Assert.Equal(10, data.Inputs.shape[0]);
        }
    }

    private static TrainingData Make(string name, int count, int seed) =>
        name == "ring8" ? MixtureDatasets.Ring8(count, seed) : MixtureDatasets.Grid25(count, seed);
}
