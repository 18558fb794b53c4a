using Orchestrator.Worker.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Evaluation;

/// <summary>The bundled MNIST subset as tensors: images float32 [N, 1, 28, 28] in [-1, 1], labels int64 [N].</summary>
internal static class MnistSubset
{
    private static readonly Lazy<(Tensor Images, Tensor Labels)> train = new(() => Load("train"));
    private static readonly Lazy<(Tensor Images, Tensor Labels)> heldOut = new(() => Load("heldout"));

    // Shared by every test for the life of the test process; loading takes a moment and the tensors are read-only.
    public static (Tensor Images, Tensor Labels) Train => train.Value;
    public static (Tensor Images, Tensor Labels) HeldOut => heldOut.Value;

    private static (Tensor Images, Tensor Labels) Load(string split)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "data", "mnist-subset");
        var images = IdxFile.ReadImages(IdxFile.Locate(directory, $"{split}-images-idx3-ubyte"));
        var labels = IdxFile.ReadLabels(IdxFile.Locate(directory, $"{split}-labels-idx1-ubyte"));
        using var pixels = torch.tensor(images.Pixels.ToArray(), [images.Count, 1, images.Rows, images.Columns]);
        var scaled = (pixels.to(float32) / 127.5 - 1).DetachFromDisposeScope();
        using var labelBytes = torch.tensor(labels.ToArray());
        var classes = labelBytes.to(int64).DetachFromDisposeScope();
        return (scaled, classes);
    }
}
