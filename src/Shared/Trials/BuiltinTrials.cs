using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Trials;

/// <summary>
/// The pure parts of the built-in `sleep` and `quadratic` trial kinds: what they report, as functions of the
/// trial spec, so that a worker and the tests compute the same numbers.
/// </summary>
public static class BuiltinTrials
{
    /// <summary>The metric both kinds report as their result (the default sweep objective).</summary>
    public const string ObjectiveMetric = "objective";

    /// <summary>The final objective of a `sleep` trial: uniform in [0, 1), a function of the seed only.</summary>
    public static double SleepObjective(int seed) => new Random(seed).NextDouble();

    /// <summary>
    /// The objective a `sleep` trial reports at its <paramref name="report"/>-th intermediate report (1-based) of
    /// <paramref name="reports"/>: it approaches the final objective from above, like a training curve.
    /// </summary>
    public static double SleepIntermediate(int seed, int report, int reports)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(report, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(report, reports);
        return SleepObjective(seed) + (double)(reports - report) / reports;
    }

    /// <summary>The step a `sleep` trial reports for its <paramref name="report"/>-th report: the report's number.</summary>
    public static long SleepStep(int report) => report;

    /// <summary>Seconds a `sleep` trial waits before its <paramref name="report"/>-th report (and, for the last, before it ends).</summary>
    public static double SleepInterval(SleepSpec spec) => spec.Reports == 0 ? spec.Seconds : spec.Seconds / spec.Reports;

    /// <summary>The objective of a `quadratic` trial: (x - 1)^2 + (y + 2)^2 plus noise x N(0, 1) drawn from the seed.</summary>
    public static double QuadraticObjective(QuadraticSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var value = (spec.X - 1) * (spec.X - 1) + (spec.Y + 2) * (spec.Y + 2);
        if (spec.Noise == 0) return value;
        // Box-Muller on two seeded uniforms; 1 - u keeps the logarithm's argument in (0, 1].
        var random = new Random(seed);
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return value + spec.Noise * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>The final metrics of a finished built-in trial; throws for the `gan` kind, which the engine runs.</summary>
    public static IReadOnlyDictionary<string, double> FinalMetrics(TrialSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Kind switch
        {
            TrialKinds.Sleep => new Dictionary<string, double> { [ObjectiveMetric] = SleepObjective(spec.Seed) },
            TrialKinds.Quadratic => new Dictionary<string, double> { [ObjectiveMetric] = QuadraticObjective(spec.Quadratic, spec.Seed) },
            _ => throw new ArgumentException($"kind {spec.Kind} is not a built-in trial", nameof(spec)),
        };
    }
}
