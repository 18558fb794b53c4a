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

    /// <summary>An interpolated string formatted with the invariant culture.</summary>
    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
