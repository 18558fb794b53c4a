using System.Globalization;

namespace Orchestrator.Benchmarks;

/// <summary>Small helpers the scenarios share for summarising and printing their figures.</summary>
internal static class Figures
{
    /// <summary>The median (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>The <paramref name="q"/> quantile, interpolated between the two nearest values.</summary>
    public static double Quantile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        double at = q * (sorted.Length - 1);
        int low = (int)Math.Floor(at);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
    }

    /// <summary>
    /// A percentile-bootstrap interval for the median of <paramref name="values"/> (rounds resampled with
    /// replacement, a fixed seed so a run's figures can be recomputed): low and high ends.
    /// </summary>
    public static double[] MedianInterval(IReadOnlyList<double> values, double confidence, int resamples = 4000)
    {
        var random = new Random(1);
        var medians = new double[resamples];
        var sample = new double[values.Count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < sample.Length; i++) sample[i] = values[random.Next(values.Count)];
            medians[r] = Median(sample);
        }
        return [Quantile(medians, (1 - confidence) / 2), Quantile(medians, (1 + confidence) / 2)];
    }

    /// <summary>An interpolated string formatted with the invariant culture.</summary>
    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
