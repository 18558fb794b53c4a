using Orchestrator.Worker.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Evaluation;

public class FeatureMetricsTests
{
    [Fact]
    public void Frechet_distance_of_a_set_with_itself_is_zero()
    {
        using var scope = torch.NewDisposeScope();
        var features = CorrelatedGaussian(n: 2000, seed: 1);

        Assert.Equal(0, FeatureMetrics.FrechetDistance(features, features), precision: 6);
    }

    [Fact]
    public void Frechet_distance_of_equal_covariance_gaussians_is_the_squared_mean_shift()
    {
        using var scope = torch.NewDisposeScope();
        var shift = torch.tensor(new float[] { 1, -2, 0, 0.5f, 0, 0, 1.5f, 0 });
        double squaredShift = 1 + 4 + 0.25 + 2.25;
        var a = CorrelatedGaussian(n: 20_000, seed: 2);
        var b = CorrelatedGaussian(n: 20_000, seed: 3) + shift;

        // Sampling noise in the covariance term is a few hundredths at this size.
        Assert.Equal(squaredShift, FeatureMetrics.FrechetDistance(a, b), tolerance: 0.15);
    }

    [Fact]
    public void Frechet_distance_of_scaled_gaussians_includes_the_covariance_term()
    {
        using var scope = torch.NewDisposeScope();
        const int dimensions = 6;
        var a = StandardNormal(20_000, dimensions, seed: 4);
        var b = StandardNormal(20_000, dimensions, seed: 5) * 2;

        // Tr(I + 4I − 2 (4I)^½) = D (1 + 4 − 4) = D.
        Assert.Equal(dimensions, FeatureMetrics.FrechetDistance(a, b), tolerance: 0.15);
    }

    [Fact]
    public void Kid_of_two_samples_of_one_distribution_is_near_zero()
    {
        using var scope = torch.NewDisposeScope();
        var a = StandardNormal(3000, 16, seed: 6);
        var b = StandardNormal(3000, 16, seed: 7);

        var kid = FeatureMetrics.KernelInceptionDistance(a, b);

        // Subset noise is about 0.002 here; keeping the kernel diagonal (the biased estimator) would add about 0.015.
        Assert.True(Math.Abs(kid.Mean) < 0.01, $"KID was {kid.Mean}");
    }

    [Fact]
    public void Kid_of_different_distributions_is_clearly_positive()
    {
        using var scope = torch.NewDisposeScope();
        var a = StandardNormal(3000, 16, seed: 8);
        var b = StandardNormal(3000, 16, seed: 9) + 0.5;

        var kid = FeatureMetrics.KernelInceptionDistance(a, b);

        Assert.True(kid.Mean > 0.5, $"KID was {kid.Mean}");
        Assert.True(kid.Mean > 10 * kid.Std, $"KID {kid.Mean} ± {kid.Std}");
    }

    [Fact]
    public void Kid_is_reproducible_for_a_seed_and_varies_with_it()
    {
        using var scope = torch.NewDisposeScope();
        var a = CorrelatedGaussian(n: 1500, seed: 10);
        var b = CorrelatedGaussian(n: 1500, seed: 11) + 0.2;

        var first = FeatureMetrics.KernelInceptionDistance(a, b, subsets: 3, subsetSize: 500, seed: 42);
        var again = FeatureMetrics.KernelInceptionDistance(a, b, subsets: 3, subsetSize: 500, seed: 42);
        var other = FeatureMetrics.KernelInceptionDistance(a, b, subsets: 3, subsetSize: 500, seed: 43);

        Assert.Equal(first, again);
        Assert.NotEqual(first.Mean, other.Mean);
    }

    [Fact]
    public void Precision_and_recall_are_near_one_for_one_distribution()
    {
        using var scope = torch.NewDisposeScope();
        var real = StandardNormal(2500, 4, seed: 12);
        var fake = StandardNormal(2500, 4, seed: 13);

        var scores = FeatureMetrics.PrecisionRecall(real, fake);

        Assert.True(scores.Precision > 0.9, $"precision {scores.Precision}");
        Assert.True(scores.Recall > 0.9, $"recall {scores.Recall}");
    }

    [Fact]
    public void Precision_and_recall_are_zero_for_disjoint_sets()
    {
        using var scope = torch.NewDisposeScope();
        var real = StandardNormal(1000, 4, seed: 14);
        var fake = StandardNormal(1000, 4, seed: 15) + 100;

        var scores = FeatureMetrics.PrecisionRecall(real, fake);

        Assert.Equal(0, scores.Precision);
        Assert.Equal(0, scores.Recall);
    }

    [Fact]
    public void Fakes_covering_one_of_two_real_clusters_keep_precision_and_lose_half_the_recall()
    {
        using var scope = torch.NewDisposeScope();
        var left = StandardNormal(1000, 4, seed: 16) - 20;
        var right = StandardNormal(1000, 4, seed: 17) + 20;
        var real = torch.cat([left, right]);
        var fake = StandardNormal(1000, 4, seed: 18) + 20;

        var scores = FeatureMetrics.PrecisionRecall(real, fake);

        Assert.True(scores.Precision > 0.9, $"precision {scores.Precision}");
        Assert.InRange(scores.Recall, 0.4, 0.5);
    }

    [Fact]
    public void Sets_of_different_widths_are_rejected()
    {
        using var scope = torch.NewDisposeScope();
        var a = StandardNormal(10, 3, seed: 19);
        var b = StandardNormal(10, 4, seed: 20);

        Assert.Throws<ArgumentException>(() => FeatureMetrics.FrechetDistance(a, b));
    }

    private static Tensor StandardNormal(long n, long dimensions, long seed)
    {
        using var generator = new torch.Generator((ulong)seed, torch.CPU);
        return torch.randn([n, dimensions], generator: generator);
    }

    /// <summary>8-dimensional Gaussian samples with one fixed, non-diagonal covariance shared by every seed.</summary>
    private static Tensor CorrelatedGaussian(long n, long seed)
    {
        var mixing = StandardNormal(8, 8, seed: 1000) * 0.5 + torch.eye(8);
        return StandardNormal(n, 8, seed).matmul(mixing);
    }
}
