using Orchestrator.Worker.Evaluation;
using TorchSharp;

namespace Orchestrator.Worker.Tests.Evaluation;

/// <summary>Trains the digit classifier once, into a private cache directory, for every test in its collection.</summary>
public sealed class TrainedClassifierFixture : IDisposable
{
    public TrainedClassifierFixture()
    {
        // The test machines are shared and often oversubscribed: with two threads, libtorch's workers spin at each
        // barrier while another process holds a core, and training took 30 s to over 4 minutes; one thread held
        // near 25 s under the same load.
        torch.set_num_threads(1);
        CacheDirectory = Path.Combine(Path.GetTempPath(), "orchestrator-classifier-tests-" + Guid.NewGuid().ToString("N"));
        var (images, labels) = MnistSubset.Train;
        var (heldOutImages, heldOutLabels) = MnistSubset.HeldOut;
        Classifier = ClassifierCache.LoadOrTrain(images, labels, heldOutImages, heldOutLabels, CacheDirectory);
        evaluator = new Lazy<ImageEvaluator>(CreateEvaluator);
        heldOutReport = new Lazy<ImageReport>(() => Evaluator.Evaluate(MnistSubset.HeldOut.Images));
    }

    private readonly Lazy<ImageEvaluator> evaluator;
    private readonly Lazy<ImageReport> heldOutReport;

    public string CacheDirectory { get; }
    /// <summary>The result of the first LoadOrTrain call against an empty cache directory.</summary>
    public TrainedClassifier Classifier { get; }
    /// <summary>An evaluator over 2,500 random training digits.</summary>
    public ImageEvaluator Evaluator => evaluator.Value;
    /// <summary>The held-out digits scored by <see cref="Evaluator"/>: what a perfect generator would get.</summary>
    public ImageReport HeldOutReport => heldOutReport.Value;

    public void Dispose()
    {
        if (evaluator.IsValueCreated) evaluator.Value.Dispose();
        Classifier.Dispose();
        if (Directory.Exists(CacheDirectory)) Directory.Delete(CacheDirectory, recursive: true);
    }

    private ImageEvaluator CreateEvaluator()
    {
        const int realCount = 2500;
        var (images, labels) = MnistSubset.Train;
        // A random draw: the bundled files are grouped by class, so their first rows would hold only a few digits.
        using var generator = new torch.Generator(0, torch.CPU);
        using var pick = torch.randperm(images.shape[0], generator: generator).narrow(0, 0, realCount);
        using var realImages = images.index_select(0, pick);
        using var realLabels = labels.index_select(0, pick);
        return new ImageEvaluator(Classifier, realImages, realLabels);
    }
}
