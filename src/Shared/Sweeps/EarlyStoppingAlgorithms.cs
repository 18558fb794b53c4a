namespace Orchestrator.Shared.Sweeps;

/// <summary>Early-stopping algorithms.</summary>
public static class EarlyStoppingAlgorithms
{
    public const string None = "none";
    public const string Median = "median";
    public const string Asha = "asha";
    public const string Hyperband = "hyperband";
    public static readonly string[] All = [None, Median, Asha, Hyperband];
}
