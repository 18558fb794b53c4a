namespace Orchestrator.Shared.Sweeps;

/// <summary>One dimension of a sweep's search space.</summary>
public sealed record ParameterSpec
{
    /// <summary>Dotted path of the trial-spec field it sets, e.g. <c>optimizer.generator.lr</c> or <c>loss.type</c>.</summary>
    public required string Name { get; init; }

    /// <summary>One of <see cref="ParameterTypes"/>.</summary>
    public required string Type { get; init; }

    /// <summary>Lower bound, inclusive (uniform, log_uniform, int).</summary>
    public double? Min { get; init; }

    /// <summary>Upper bound, inclusive (uniform, log_uniform, int).</summary>
    public double? Max { get; init; }

    /// <summary>The choices of a categorical parameter, as the YAML scalars that would be written in the trial spec.</summary>
    public IReadOnlyList<string> Values { get; init; } = [];

    /// <summary>Grid search only: points per numeric range (evenly spaced, in log space for log_uniform); null takes the search spec's default.</summary>
    public int? GridPoints { get; init; }
}
