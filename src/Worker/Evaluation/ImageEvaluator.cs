using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Orchestrator.Worker.Evaluation;

/// <summary>Scores generated digit images against a fixed real sample, whose classifier features are computed once.</summary>
public sealed class ImageEvaluator : IDisposable
{
    private const int NearestNeighbours = 3;

    private readonly TrainedClassifier classifier;
    private readonly Tensor realFeatures;
    private readonly long[] realClassCounts;

    /// <summary>
    /// Real images [N, 1, H, W] in [-1, 1] and their labels [N]; the classifier stays owned by the caller.
    /// </summary>
    public ImageEvaluator(TrainedClassifier classifier, Tensor realImages, Tensor realLabels)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(realLabels);
        this.classifier = classifier;
        realClassCounts = ClassHistogram.Count(realLabels, DigitClassifier.ClassCount, nameof(realLabels));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var images = ToClassifierSize(realImages, nameof(realImages));
        if (realLabels.shape[0] != images.shape[0])
            throw new ArgumentException($"{images.shape[0]} real images but {realLabels.shape[0]} labels", nameof(realLabels));
        // Held for the evaluator's lifetime, so it must not die with whatever dispose scope the caller is in.
        realFeatures = classifier.Features(images).DetachFromDisposeScope();
    }

    public long RealCount => realFeatures.shape[0];

    /// <summary>Scores generated images [N, 1, H, W] in [-1, 1]; sizes other than 28x28 are area-resized first.</summary>
    public ImageReport Evaluate(Tensor generatedImages)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var images = ToClassifierSize(generatedImages, nameof(generatedImages));
        var (classes, features) = classifier.Classify(images);
        var histogram = new ClassHistogram(ClassHistogram.Count(classes, DigitClassifier.ClassCount, nameof(generatedImages)), realClassCounts);
        var kid = FeatureMetrics.KernelInceptionDistance(realFeatures, features);
        var precisionRecall = FeatureMetrics.PrecisionRecall(realFeatures, features, NearestNeighbours);
        return new ImageReport(
            ClassCoverage: histogram.Coverage,
            ClassKl: histogram.Kl,
            FrechetDistance: FeatureMetrics.FrechetDistance(realFeatures, features),
            Kid: kid.Mean,
            Precision: precisionRecall.Precision,
            Recall: precisionRecall.Recall);
    }

    public void Dispose() => realFeatures.Dispose();

    private static Tensor ToClassifierSize(Tensor images, string name)
    {
        ArgumentNullException.ThrowIfNull(images, name);
        if (images.dim() != 4 || images.shape[1] != 1)
            throw new ArgumentException($"images must be [N, 1, H, W], got [{string.Join(", ", images.shape)}]", name);
        var floats = images.detach().to(float32).cpu();
        if (images.shape[2] == DigitClassifier.ImageSize && images.shape[3] == DigitClassifier.ImageSize)
            return floats;
        // Area averaging (what interpolate's "area" mode does) keeps stroke mass when shrinking 64x64 output,
        // where bilinear sampling would skip pixels and thin the strokes.
        return functional.adaptive_avg_pool2d(floats, [DigitClassifier.ImageSize, DigitClassifier.ImageSize]);
    }
}
