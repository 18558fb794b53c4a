using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Orchestrator.Worker.Tests.Evaluation;

[Collection(TrainedClassifierCollection.Name)]
public class ImageEvaluatorTests(TrainedClassifierFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Held_out_digits_score_as_realistic_and_diverse()
    {
        var report = fixture.HeldOutReport;
        output.WriteLine(report.ToString());

        Assert.Equal(10, report.ClassCoverage);
        Assert.True(report.ClassKl < 0.02, $"class KL {report.ClassKl}");
        Assert.True(report.Precision > 0.7, $"precision {report.Precision}");
        Assert.True(report.Recall > 0.7, $"recall {report.Recall}");
    }

    [Fact]
    public void Digits_of_a_single_class_read_as_mode_collapse()
    {
        using var scope = torch.NewDisposeScope();
        var (images, labels) = MnistSubset.HeldOut;
        var ones = images.index_select(0, labels.eq(1).nonzero().squeeze(1));

        var collapsed = fixture.Evaluator.Evaluate(ones);
        var diverse = fixture.HeldOutReport;
        output.WriteLine($"collapsed {collapsed}\ndiverse {diverse}");

        // The classifier misreads a few ones as other digits, so coverage is small but not exactly 1.
        Assert.True(collapsed.ClassCoverage <= 4, $"coverage {collapsed.ClassCoverage}");
        Assert.True(collapsed.ClassKl > 1.5, $"class KL {collapsed.ClassKl}");
        Assert.True(collapsed.Recall < 0.3, $"recall {collapsed.Recall}");
        Assert.True(collapsed.FrechetDistance > 20 * diverse.FrechetDistance, $"FID {collapsed.FrechetDistance} against {diverse.FrechetDistance}");
        Assert.True(collapsed.Kid > 20 * Math.Abs(diverse.Kid), $"KID {collapsed.Kid} against {diverse.Kid}");
    }

    [Fact]
    public void Noise_images_score_as_unrealistic()
    {
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator(3, torch.CPU);
        var noise = torch.rand([1000, 1, 28, 28], generator: generator) * 2 - 1;

        var report = fixture.Evaluator.Evaluate(noise);
        var diverse = fixture.HeldOutReport;
        output.WriteLine($"noise {report}\ndiverse {diverse}");

        // Precision is no guide here: noise features bunch in one spot that the balls of outlying real digits reach.
        Assert.True(report.Recall < 0.05, $"recall {report.Recall}");
        Assert.True(report.ClassKl > 1.5, $"class KL {report.ClassKl}");
        Assert.True(report.FrechetDistance > 20 * diverse.FrechetDistance, $"FID {report.FrechetDistance} against {diverse.FrechetDistance}");
    }

    [Fact]
    public void Images_larger_than_28_pixels_are_resized_before_classifying()
    {
        using var scope = torch.NewDisposeScope();
        var upsampled = functional.interpolate(MnistSubset.HeldOut.Images, size: [64, 64], mode: InterpolationMode.Bilinear, align_corners: false);

        var report = fixture.Evaluator.Evaluate(upsampled);
        output.WriteLine(report.ToString());

        Assert.Equal(10, report.ClassCoverage);
        Assert.True(report.ClassKl < 0.02, $"class KL {report.ClassKl}");
        Assert.True(report.Precision > 0.5, $"precision {report.Precision}");
    }
}
