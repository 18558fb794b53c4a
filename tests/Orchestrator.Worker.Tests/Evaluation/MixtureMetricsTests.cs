using Orchestrator.Worker.Data;
using Orchestrator.Worker.Evaluation;
using TorchSharp;

namespace Orchestrator.Worker.Tests.Evaluation;

public class MixtureMetricsTests
{
    private const double Std = 0.02;
    private static readonly MixtureInfo Ring = RingOfEight(radius: 2.0);

    [Fact]
    public void Points_on_five_of_eight_modes_cover_five_and_far_points_are_low_quality()
    {
        var points = new List<double[]>();
        for (int mode = 0; mode < 5; mode++)
            for (int copy = 0; copy < 3; copy++)
                points.Add([Ring.Means[mode, 0], Ring.Means[mode, 1]]);
        // The ring's centre is 2.0 = 100 std from every mode; (10, 10) is farther still.
        for (int i = 0; i < 4; i++) points.Add([0.0, 0.0]);
        points.Add([10.0, 10.0]);

        var report = MixtureMetrics.Evaluate(ToTensor(points), Ring);

        Assert.Equal(5, report.ModesCovered);
        Assert.Equal(8, report.ModeCount);
        Assert.Equal(15.0 / 20.0, report.HighQualityFraction, precision: 12);
        Assert.Equal([3, 3, 3, 3, 3, 0, 0, 0], report.PerModeCounts);
    }

    [Fact]
    public void A_sample_counts_as_high_quality_just_inside_three_std_and_not_just_outside()
    {
        var inside = new double[] { Ring.Means[2, 0] + 2.9 * Std, Ring.Means[2, 1] };
        var outside = new double[] { Ring.Means[6, 0], Ring.Means[6, 1] + 3.1 * Std };

        var report = MixtureMetrics.Evaluate(ToTensor([inside, outside]), Ring);

        Assert.Equal(1, report.ModesCovered);
        Assert.Equal(0.5, report.HighQualityFraction, precision: 12);
        Assert.Equal(1, report.PerModeCounts[2]);
        Assert.Equal(0, report.PerModeCounts[6]);
    }

    [Fact]
    public void A_sample_is_credited_to_its_nearest_mode()
    {
        // A grid with std large enough that a point 0.4 from mode 0 and 0.6 from mode 1 is high quality for both.
        var grid = new MixtureInfo(new double[,] { { 0, 0 }, { 1, 0 } }, Std: 0.5);

        var report = MixtureMetrics.Evaluate(ToTensor([[0.4, 0.0], [0.45, 0.0]]), grid);

        Assert.Equal([2, 0], report.PerModeCounts);
        Assert.Equal(1, report.ModesCovered);
    }

    [Fact]
    public void Samples_of_the_wrong_width_are_rejected()
    {
        using var samples = torch.zeros(4, 3);
        Assert.Throws<ArgumentException>(() => MixtureMetrics.Evaluate(samples, Ring));
    }

    private static MixtureInfo RingOfEight(double radius)
    {
        var means = new double[8, 2];
        for (int i = 0; i < 8; i++)
        {
            means[i, 0] = radius * Math.Cos(2 * Math.PI * i / 8);
            means[i, 1] = radius * Math.Sin(2 * Math.PI * i / 8);
        }
        return new MixtureInfo(means, Std);
    }

    private static torch.Tensor ToTensor(IReadOnlyList<double[]> points) =>
        torch.tensor(points.SelectMany(p => p).Select(v => (float)v).ToArray(), [points.Count, 2]);
}
