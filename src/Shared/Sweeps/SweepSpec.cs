using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Sweeps;

/// <summary>One hyperparameter sweep: the `sweep:` block of a sweep file, validated.</summary>
public sealed record SweepSpec
{
    public string Name { get; init; } = "sweep";
    /// <summary>The trial every configuration starts from; parameters overwrite its fields.</summary>
    public TrialSpec Trial { get; init; } = new();
    public IReadOnlyList<ParameterSpec> Parameters { get; init; } = [];
    public ObjectiveSpec Objective { get; init; } = new();
    public SearchSpec Search { get; init; } = new();
    public EarlyStoppingSpec EarlyStopping { get; init; } = new();
    public BudgetSpec Budget { get; init; } = new();
    public ResourcesSpec Resources { get; init; } = new();
}
