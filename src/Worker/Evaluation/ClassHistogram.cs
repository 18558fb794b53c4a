using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Evaluation;

/// <summary>The class histogram of generated samples against the data's: how many classes appear, and how far off the mix is.</summary>
public sealed class ClassHistogram
{
    /// <summary>
    /// Added to every bin's probability before the KL divergence, so a class the data lacks but the generator
    /// produces gives a large, finite penalty instead of infinity.
    /// </summary>
    public const double Epsilon = 1e-10;

    private readonly long[] generatedCounts;
    private readonly long[] dataCounts;

    /// <summary>Builds the histogram from per-class counts of generated samples and of data samples.</summary>
    public ClassHistogram(IReadOnlyList<long> generatedCounts, IReadOnlyList<long> dataCounts)
    {
        ArgumentNullException.ThrowIfNull(generatedCounts);
        ArgumentNullException.ThrowIfNull(dataCounts);
        if (generatedCounts.Count != dataCounts.Count || generatedCounts.Count == 0)
            throw new ArgumentException($"both histograms need the same, positive number of classes; got {generatedCounts.Count} and {dataCounts.Count}");
        if (generatedCounts.Any(c => c < 0) || dataCounts.Any(c => c < 0))
            throw new ArgumentException("class counts cannot be negative");
        if (generatedCounts.Sum() == 0 || dataCounts.Sum() == 0)
            throw new ArgumentException("both histograms need at least one sample");
        this.generatedCounts = [.. generatedCounts];
        this.dataCounts = [.. dataCounts];
        Coverage = this.generatedCounts.Count(c => c > 0);
        Kl = KullbackLeibler(Smoothed(this.generatedCounts), Smoothed(this.dataCounts));
    }

    /// <summary>Counts the classes of <paramref name="predictedClasses"/> (generated) and <paramref name="dataLabels"/> (int [N] each).</summary>
    public static ClassHistogram FromLabels(Tensor predictedClasses, Tensor dataLabels, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        return new ClassHistogram(Count(predictedClasses, classCount, nameof(predictedClasses)), Count(dataLabels, classCount, nameof(dataLabels)));
    }

    public int ClassCount => generatedCounts.Length;
    public IReadOnlyList<long> GeneratedCounts => generatedCounts;
    public IReadOnlyList<long> DataCounts => dataCounts;
    /// <summary>Classes the generator produced at least once.</summary>
    public int Coverage { get; }
    /// <summary>KL(p_generated ‖ p_data) in nats, with <see cref="Epsilon"/> smoothing; 0 when the mixes match.</summary>
    public double Kl { get; }

    internal static long[] Count(Tensor labels, int classCount, string name)
    {
        ArgumentNullException.ThrowIfNull(labels, name);
        if (labels.dim() != 1)
            throw new ArgumentException($"labels must be [N], got [{string.Join(", ", labels.shape)}]", name);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var values = labels.detach().to(int64).cpu();
        if (values.numel() > 0 && (values.min().item<long>() < 0 || values.max().item<long>() >= classCount))
            throw new ArgumentException($"labels must lie in [0, {classCount})", name);
        return values.bincount(null, minlength: classCount).data<long>().ToArray();
    }

    private static double[] Smoothed(long[] counts)
    {
        double total = counts.Sum();
        double normaliser = 1 + counts.Length * Epsilon;
        return [.. counts.Select(c => (c / total + Epsilon) / normaliser)];
    }

    private static double KullbackLeibler(double[] p, double[] q)
    {
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] * Math.Log(p[i] / q[i]);
        // Never negative in exact arithmetic; equal histograms can round to -1e-17.
        return Math.Max(0, sum);
    }
}
