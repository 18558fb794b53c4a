using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Orchestrator.Worker.Evaluation;

/// <summary>A LeNet-style MNIST classifier whose penultimate activations are the features for FID, KID and precision / recall.</summary>
public sealed class DigitClassifier : Module<Tensor, Tensor>
{
    public const int ClassCount = 10;
    public const int ImageSize = 28;
    /// <summary>Width of <see cref="Features"/>.</summary>
    public const int FeatureCount = 128;

    // Field names are checkpoint keys: renaming one invalidates every cached classifier
    // (ClassifierCache.ArchitectureVersion must change with them).
    private readonly Conv2d conv1;
    private readonly MaxPool2d pool1;
    private readonly Conv2d conv2;
    private readonly MaxPool2d pool2;
    private readonly Linear fc1;
    private readonly Dropout dropout;
    private readonly Linear fc2;
    private readonly Linear fc3;

    public DigitClassifier() : base(nameof(DigitClassifier))
    {
        conv1 = Conv2d(1, 32, kernel_size: 5);   // 28 -> 24
        pool1 = MaxPool2d(2);                      // 24 -> 12
        conv2 = Conv2d(32, 64, kernel_size: 5);  // 12 -> 8
        pool2 = MaxPool2d(2);                      // 8 -> 4
        fc1 = Linear(64 * 4 * 4, 256);
        dropout = Dropout(0.5);
        fc2 = Linear(256, FeatureCount);
        fc3 = Linear(FeatureCount, ClassCount);
        RegisterComponents();
    }

    /// <summary>Penultimate activations [N, <see cref="FeatureCount"/>] of images [N, 1, 28, 28] in [-1, 1].</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = pool1.forward(functional.relu(conv1.forward(x)));
        h = pool2.forward(functional.relu(conv2.forward(h)));
        h = dropout.forward(functional.relu(fc1.forward(h.flatten(1))));
        return functional.relu(fc2.forward(h)).MoveToOuterDisposeScope();
    }

    /// <summary>Class logits [N, 10].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return Head(Features(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Logits from <see cref="Features"/>' output.</summary>
    internal Tensor Head(Tensor features) => fc3.forward(features);
}
