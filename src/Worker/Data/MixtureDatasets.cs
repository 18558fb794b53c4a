using Orchestrator.Shared.Specs;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Data;

/// <summary>The 2-D Gaussian mixtures used as mode-collapse benchmarks: a ring of 8 and a 5x5 grid.</summary>
public static class MixtureDatasets
{
    public const double RingRadius = 2.0;
    public const double RingStd = 0.02;
    public const double GridSpacing = 2.0;
    public const double GridStd = 0.05;

    // ShardedSampler uses streams 0, 1, 2, ... (one per epoch); a negative id keeps the points uncorrelated
    // with the shuffles when a trial uses one seed for both.
    private const long MixtureStream = -1;

    /// <summary>8 modes evenly spaced on a circle of radius 2, std 0.02.</summary>
    public static TrainingData Ring8(int count, int seed)
    {
        var means = new double[8, 2];
        for (int k = 0; k < 8; k++)
        {
            double angle = k * 2.0 * Math.PI / 8;
            means[k, 0] = RingRadius * Math.Cos(angle);
            means[k, 1] = RingRadius * Math.Sin(angle);
        }
        return Sample(Datasets.Ring8, new MixtureInfo(means, RingStd), count, seed);
    }

    /// <summary>25 modes on {-4, -2, 0, 2, 4}², std 0.05.</summary>
    public static TrainingData Grid25(int count, int seed)
    {
        var means = new double[25, 2];
        for (int i = 0; i < 5; i++)
        {
            for (int j = 0; j < 5; j++)
            {
                means[i * 5 + j, 0] = (i - 2) * GridSpacing;
                means[i * 5 + j, 1] = (j - 2) * GridSpacing;
            }
        }
        return Sample(Datasets.Grid25, new MixtureInfo(means, GridStd), count, seed);
    }

    // Modes are equally likely; a point's label is the mode that produced it.
    private static TrainingData Sample(string name, MixtureInfo mixture, int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int modes = mixture.ModeCount;
        // Drawn in managed code from a specified PRNG so a seed gives the same points on every machine,
        // independent of libtorch's generator implementation.
        var random = SplitMix64.ForStream(seed, MixtureStream);
        var points = new float[2L * count];
        var labels = new long[count];
        for (int n = 0; n < count; n++)
        {
            int k = (int)random.NextBelow((ulong)modes);
            var (x, y) = random.NextGaussianPair();
            labels[n] = k;
            points[2 * n] = (float)(mixture.Means[k, 0] + mixture.Std * x);
            points[2 * n + 1] = (float)(mixture.Means[k, 1] + mixture.Std * y);
        }
        // The tensors belong to the returned TrainingData, not to whatever dispose scope the caller is in.
        var inputs = tensor(points, [count, 2]).DetachFromDisposeScope();
        var labelTensor = tensor(labels).DetachFromDisposeScope();
        return new TrainingData(name, inputs, labelTensor, modes, mixture);
    }
}
