using System.Globalization;

namespace Orchestrator.Shared.Specs;

/// <summary>
/// Wording of range errors, shared by the YAML getters and <see cref="TrialSpecValidator"/> so that a
/// bound reads the same whichever path reported it.
/// </summary>
internal static class BoundsText
{
    public static string Ints(int? min, int? max) => (min, max) switch
    {
        ({ } lo, { } hi) => $"between {lo} and {hi}",
        ({ } lo, null) => $">= {lo}",
        (null, { } hi) => $"<= {hi}",
        _ => "an integer",
    };

    public static string Doubles(double? min, double? max, bool exclusiveMin)
    {
        var lower = min is null ? "" : exclusiveMin ? $"> {Number(min.Value)}" : $">= {Number(min.Value)}";
        var upper = max is null ? "" : $"<= {Number(max.Value)}";
        return lower.Length > 0 && upper.Length > 0 ? $"{lower} and {upper}" : lower + upper;
    }

    public static bool OutOfRange(double value, double? min, double? max, bool exclusiveMin) =>
        (min is { } lo && (exclusiveMin ? value <= lo : value < lo)) || (max is { } hi && value > hi);

    public static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}
