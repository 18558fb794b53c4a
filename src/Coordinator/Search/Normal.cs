namespace Orchestrator.Coordinator.Search;

/// <summary>The standard normal distribution's functions the Parzen estimators need (.NET has no erf).</summary>
internal static class Normal
{
    public static readonly double LogSqrt2Pi = 0.5 * Math.Log(2 * Math.PI);

    /// <summary>Φ(x), the standard normal CDF.</summary>
    public static double Cdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>Φ(b) - Φ(a) for a &lt;= b, computed in the tail where it is accurate (no 1 - 1 cancellation).</summary>
    public static double Mass(double a, double b) =>
        a > 0 ? 0.5 * (Erfc(a / Math.Sqrt(2)) - Erfc(b / Math.Sqrt(2))) : Cdf(b) - Cdf(a);

    /// <summary>
    /// Complementary error function, Chebyshev fit from Numerical Recipes (erfcc): relative error below 1.2e-7
    /// everywhere, far finer than the density ratios TPE compares need, and a single exp.
    /// </summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }
}
