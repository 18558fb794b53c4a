namespace Orchestrator.Shared.Sweeps;

/// <summary>Directions of an objective.</summary>
public static class Goals
{
    public const string Minimize = "minimize";
    public const string Maximize = "maximize";
    public static readonly string[] All = [Minimize, Maximize];
}
