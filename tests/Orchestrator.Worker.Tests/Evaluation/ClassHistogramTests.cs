using Orchestrator.Worker.Evaluation;
using TorchSharp;

namespace Orchestrator.Worker.Tests.Evaluation;

public class ClassHistogramTests
{
    [Fact]
    public void Coverage_counts_the_classes_predicted_at_least_once()
    {
        using var predicted = torch.tensor(new long[] { 0, 0, 3, 3, 3, 7 });
        using var data = torch.tensor(Enumerable.Range(0, 10).Select(i => (long)i).ToArray());

        var histogram = ClassHistogram.FromLabels(predicted, data, classCount: 10);

        Assert.Equal(3, histogram.Coverage);
        Assert.Equal([2L, 0, 0, 3, 0, 0, 0, 1, 0, 0], histogram.GeneratedCounts);
        Assert.Equal(Enumerable.Repeat(1L, 10), histogram.DataCounts);
    }

    [Fact]
    public void Kl_matches_the_hand_computed_divergence()
    {
        // p = (3/4, 1/4), q = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2).
        var histogram = new ClassHistogram([3, 1], [5, 5]);

        Assert.Equal(0.75 * Math.Log(1.5) + 0.25 * Math.Log(0.5), histogram.Kl, precision: 8);
    }

    [Fact]
    public void Kl_is_zero_when_the_class_mix_matches_the_data()
    {
        var histogram = new ClassHistogram([20, 40, 60], [1, 2, 3]);

        Assert.Equal(0, histogram.Kl, precision: 12);
        Assert.Equal(3, histogram.Coverage);
    }

    [Fact]
    public void A_single_class_against_uniform_data_gives_coverage_one_and_kl_ln_ten()
    {
        using var predicted = torch.full(500, 4L, torch.int64);
        using var data = torch.arange(0, 1000, dtype: torch.int64) % 10;

        var histogram = ClassHistogram.FromLabels(predicted, data, classCount: 10);

        Assert.Equal(1, histogram.Coverage);
        Assert.Equal(Math.Log(10), histogram.Kl, precision: 6);
    }

    [Fact]
    public void A_class_missing_from_the_data_gives_a_large_finite_kl()
    {
        var histogram = new ClassHistogram([1, 1], [1, 0]);

        Assert.True(double.IsFinite(histogram.Kl));
        Assert.True(histogram.Kl > 5, $"KL was {histogram.Kl}");
    }

    [Fact]
    public void Labels_outside_the_class_range_are_rejected()
    {
        using var predicted = torch.tensor(new long[] { 0, 10 });
        using var data = torch.tensor(new long[] { 0, 1 });

        Assert.Throws<ArgumentException>(() => ClassHistogram.FromLabels(predicted, data, classCount: 10));
    }
}
