namespace Orchestrator.Shared.Sweeps;

/// <summary>Parameter types of a search space.</summary>
public static class ParameterTypes
{
    public const string Uniform = "uniform";
    public const string LogUniform = "log_uniform";
    public const string Int = "int";
    public const string Categorical = "categorical";
    public static readonly string[] All = [Uniform, LogUniform, Int, Categorical];
}
