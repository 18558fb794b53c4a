using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Evaluation;

/// <summary>A <see cref="DigitClassifier"/> in eval mode with its measured held-out accuracy; owns the module.</summary>
public sealed class TrainedClassifier : IDisposable
{
    // Bounds the activations held at once (conv1's output is 73 KB per image) without many tiny matmuls.
    private const int BatchSize = 500;

    internal TrainedClassifier(DigitClassifier module, double heldOutAccuracy, bool loadedFromCache, string weightsPath, int epochs, TimeSpan trainingTime)
    {
        module.eval();
        Module = module;
        HeldOutAccuracy = heldOutAccuracy;
        LoadedFromCache = loadedFromCache;
        WeightsPath = weightsPath;
        Epochs = epochs;
        TrainingTime = trainingTime;
    }

    public DigitClassifier Module { get; }
    /// <summary>Accuracy on the held-out set passed to <see cref="ClassifierCache.LoadOrTrain"/>, measured in this process.</summary>
    public double HeldOutAccuracy { get; }
    /// <summary>True when the weights came from the cache and no training ran.</summary>
    public bool LoadedFromCache { get; }
    public string WeightsPath { get; }
    /// <summary>Epochs the weights were trained for (recorded at training time).</summary>
    public int Epochs { get; }
    /// <summary>Wall time of the training run that produced the weights (recorded at training time).</summary>
    public TimeSpan TrainingTime { get; }

    /// <summary>Predicted classes, int64 [N], of images [N, 1, 28, 28] in [-1, 1].</summary>
    public Tensor Predict(Tensor images) => Classify(images).Classes;

    /// <summary>Penultimate features, float32 [N, <see cref="DigitClassifier.FeatureCount"/>], of images [N, 1, 28, 28] in [-1, 1].</summary>
    public Tensor Features(Tensor images) => Classify(images).Features;

    /// <summary>Classes and features in one pass over the images.</summary>
    internal (Tensor Classes, Tensor Features) Classify(Tensor images) => Classify(Module, images);

    internal static (Tensor Classes, Tensor Features) Classify(DigitClassifier module, Tensor images)
    {
        CheckImages(images);
        using var noGrad = torch.no_grad();
        long n = images.shape[0];
        var classes = torch.empty(n, int64);
        var features = torch.empty(n, DigitClassifier.FeatureCount, float32);
        for (long start = 0; start < n; start += BatchSize)
        {
            using var scope = torch.NewDisposeScope();
            long rows = Math.Min(BatchSize, n - start);
            var batch = images.narrow(0, start, rows).to(float32).cpu();
            var batchFeatures = module.Features(batch);
            features.narrow(0, start, rows).copy_(batchFeatures);
            // The head is one linear layer, so running it on the features avoids a second pass through the convolutions.
            classes.narrow(0, start, rows).copy_(module.Head(batchFeatures).argmax(1));
        }
        return (classes, features);
    }

    /// <summary>Fraction of <paramref name="images"/> whose predicted class equals <paramref name="labels"/>; the module must be in eval mode.</summary>
    internal static double Accuracy(DigitClassifier module, Tensor images, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var (predicted, _) = Classify(module, images);
        return predicted.eq(labels.to(int64).cpu()).to(float64).mean().item<double>();
    }

    public void Dispose() => Module.Dispose();

    internal static void CheckImages(Tensor images, string name = "images")
    {
        ArgumentNullException.ThrowIfNull(images, name);
        if (images.dim() != 4 || images.shape[1] != 1 || images.shape[2] != DigitClassifier.ImageSize || images.shape[3] != DigitClassifier.ImageSize)
            throw new ArgumentException($"images must be [N, 1, 28, 28], got [{string.Join(", ", images.shape)}]", name);
    }
}
