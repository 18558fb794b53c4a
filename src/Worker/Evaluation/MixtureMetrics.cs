using Orchestrator.Worker.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Evaluation;

/// <summary>The standard mode-collapse protocol for Gaussian-mixture benchmarks (ring of 8, grid of 25).</summary>
public static class MixtureMetrics
{
    /// <summary>A sample within this many standard deviations of its nearest mode counts as high quality.</summary>
    public const double QualityRadiusInStd = 3.0;

    /// <summary>
    /// Assigns each sample to its nearest mode; a sample within <see cref="QualityRadiusInStd"/> std of it is high
    /// quality, and a mode is covered when it holds at least one high-quality sample.
    /// </summary>
    public static MixtureReport Evaluate(Tensor samples, MixtureInfo mixture)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(mixture);
        int modeCount = mixture.ModeCount;
        int dimensions = mixture.Means.GetLength(1);
        if (samples.dim() != 2 || samples.shape[1] != dimensions)
            throw new ArgumentException($"samples must be [N, {dimensions}], got [{string.Join(", ", samples.shape)}]", nameof(samples));
        if (samples.shape[0] == 0)
            throw new ArgumentException("samples must hold at least one point", nameof(samples));
        if (modeCount == 0)
            throw new ArgumentException("the mixture has no modes", nameof(mixture));

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var flatMeans = new double[modeCount * dimensions];
        Buffer.BlockCopy(mixture.Means, 0, flatMeans, 0, flatMeans.Length * sizeof(double));
        var means = torch.tensor(flatMeans, [modeCount, dimensions], float64);
        var points = samples.detach().to(float64).cpu();

        var (distance, nearest) = torch.cdist(points, means).min(1);
        var highQuality = distance.le(QualityRadiusInStd * mixture.Std);
        var perMode = nearest.masked_select(highQuality).bincount(null, minlength: modeCount);

        var counts = new int[modeCount];
        var perModeValues = perMode.data<long>();
        for (int i = 0; i < modeCount; i++) counts[i] = checked((int)perModeValues[i]);
        int covered = counts.Count(c => c > 0);
        double fraction = highQuality.to(float64).mean().item<double>();
        return new MixtureReport(covered, modeCount, fraction, counts);
    }
}
