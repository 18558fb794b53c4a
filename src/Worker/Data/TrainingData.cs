using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Data;

/// <summary>
/// A dataset held in memory as tensors: points [N, 2] for mixtures, images [N, 1, H, W] scaled to [-1, 1]
/// for MNIST. Labels (class, or mode index for mixtures) are int64 [N].
/// </summary>
public sealed class TrainingData : IDisposable
{
    public TrainingData(string name, Tensor inputs, Tensor labels, int classCount, MixtureInfo? mixture = null)
    {
        if (inputs.shape[0] != labels.shape[0])
            throw new ArgumentException($"inputs hold {inputs.shape[0]} samples but labels {labels.shape[0]}");
        Name = name;
        Inputs = inputs;
        Labels = labels;
        ClassCount = classCount;
        Mixture = mixture;
    }

    public string Name { get; }
    public Tensor Inputs { get; }
    public Tensor Labels { get; }
    public int ClassCount { get; }
    /// <summary>Mode means and std for mixture datasets; null for images.</summary>
    public MixtureInfo? Mixture { get; }
    public int Count => (int)Inputs.shape[0];
    /// <summary>Shape of one sample, e.g. [2] or [1, 28, 28].</summary>
    public long[] SampleShape => Inputs.shape[1..];
    public bool IsImage => Inputs.dim() == 4;

    public void Dispose()
    {
        Inputs.Dispose();
        Labels.Dispose();
    }
}

/// <summary>The generating mixture of a 2-D dataset: mode means [K, 2] and one std for all modes.</summary>
public sealed record MixtureInfo(double[,] Means, double Std)
{
    public int ModeCount => Means.GetLength(0);
}
