namespace Orchestrator.Shared.Sweeps;

/// <summary>Search algorithms.</summary>
public static class SearchAlgorithms
{
    public const string Grid = "grid";
    public const string Random = "random";
    public const string Tpe = "tpe";
    public const string Pbt = "pbt";
    public static readonly string[] All = [Grid, Random, Tpe, Pbt];
}
