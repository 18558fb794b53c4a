using Orchestrator.Shared.Sweeps;
using static Orchestrator.Shared.Tests.Specs.SpecAssert;

namespace Orchestrator.Shared.Tests.Sweeps;

/// <summary>Settings valid alone that do not work together: search with early stopping, PBT with its budget and trials.</summary>
public sealed class SweepCombinationTests
{
    private const string Sleep = """
        sweep:
          name: sleepy
          trial:
            kind: sleep
            sleep:
              seconds: 1
              reports: 9
          parameters:
            - name: seed
              type: int
              min: 1
              max: 1000
          objective:
            metric: objective
            goal: minimize
          search:
            algorithm: random
          budget:
            max_trials: 8
            parallel_trials: 4
        """;

    private const string Pbt = """
        sweep:
          name: pbt
          trial:
            kind: gan
            training:
              steps: 3000
          parameters:
            - name: optimizer.generator.lr
              type: log_uniform
              min: 1e-5
              max: 1e-3
          objective:
            metric: modes_covered
            goal: maximize
          search:
            algorithm: pbt
            population: 4
            ready_interval: 500
          budget:
            max_trials: 4
            parallel_trials: 4
        """;

    private static string WithStopping(string yaml, string stopping) => yaml.Replace("  budget:", $"  early_stopping:\n{stopping}\n  budget:", StringComparison.Ordinal);

    [Fact]
    public void Valid_combinations_are_accepted()
    {
        SweepSpecReader.FromYaml(Pbt);
        SweepSpecReader.FromYaml(WithStopping(Sleep, "    algorithm: asha\n    min_resource: 1"));
        SweepSpecReader.FromYaml(WithStopping(Sleep, "    algorithm: hyperband\n    min_resource: 1\n    reduction_factor: 3"));
        SweepSpecReader.FromYaml(WithStopping(Sleep, "    algorithm: median\n    min_resource: 3\n    min_trials: 2"));
        SweepSpecReader.FromYaml(WithStopping(Pbt.Replace("algorithm: pbt", "algorithm: tpe", StringComparison.Ordinal)
            .Replace("max_trials: 4", "max_trials: 20", StringComparison.Ordinal), "    algorithm: asha\n    metric: loss_g\n    min_resource: 100"));
        SweepSpecReader.FromYaml(Pbt.Replace("quantile: 0.25", "", StringComparison.Ordinal).Replace("ready_interval: 500", "ready_interval: 500\n    quantile: 0.5", StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string> Invalid() => new()
    {
        // PBT with grid: a parameter's grid of values cannot survive perturbation.
        { Pbt.Replace("      max: 1e-3", "      max: 1e-3\n      grid_points: 5", StringComparison.Ordinal), "sweep.parameters[0].grid_points", "only for search.algorithm grid" },
        { Pbt.Replace("  budget:", "  early_stopping:\n    algorithm: asha\n  budget:", StringComparison.Ordinal), "sweep.early_stopping.algorithm", "must be none with search.algorithm pbt" },
        { Pbt.Replace("max_trials: 4", "max_trials: 10", StringComparison.Ordinal), "sweep.budget.max_trials", "must equal search.population (4)" },
        { Pbt.Replace("parallel_trials: 4", "parallel_trials: 2", StringComparison.Ordinal), "sweep.budget.parallel_trials", "must be >= search.population (4)" },
        { Pbt.Replace("population: 4", "population: 1", StringComparison.Ordinal).Replace("max_trials: 4", "max_trials: 1", StringComparison.Ordinal), "sweep.search.population", "between 2 and" },
        { Pbt.Replace("ready_interval: 500", "ready_interval: 500\n    quantile: 0.6", StringComparison.Ordinal), "sweep.search.quantile", "<= 0.5" },
        { Pbt.Replace("ready_interval: 500", "ready_interval: 500\n    quantile: 0", StringComparison.Ordinal), "sweep.search.quantile", "> 0" },
        { Pbt.Replace("    - name: optimizer.generator.lr\n      type: log_uniform\n      min: 1e-5\n      max: 1e-3", "    - name: loss.type\n      type: categorical\n      values: [hinge, least_squares]", StringComparison.Ordinal)
            .Replace("ready_interval: 500", "ready_interval: 500\n    resample_probability: 0", StringComparison.Ordinal), "sweep.search.resample_probability", "would never change a parameter" },
        { Sleep.Replace("algorithm: random", "algorithm: pbt\n    population: 8", StringComparison.Ordinal).Replace("parallel_trials: 4", "parallel_trials: 8", StringComparison.Ordinal)
            .Replace("kind: sleep\n    sleep:\n      seconds: 1\n      reports: 9", "kind: quadratic", StringComparison.Ordinal), "sweep.search.algorithm", "quadratic trials report none" },
        // Early stopping needs a metric the trial reports while it runs.
        { WithStopping(Sleep.Replace("kind: sleep\n    sleep:\n      seconds: 1\n      reports: 9", "kind: quadratic", StringComparison.Ordinal), "    algorithm: asha\n    min_resource: 1\n    max_resource: 9"),
            "sweep.early_stopping.algorithm", "'asha' needs an intermediate metric, and quadratic trials report none" },
        { WithStopping(Sleep.Replace("kind: sleep\n    sleep:\n      seconds: 1\n      reports: 9", "kind: quadratic", StringComparison.Ordinal), "    algorithm: median\n    min_resource: 0"),
            "sweep.early_stopping.algorithm", "'median' needs an intermediate metric" },
        { WithStopping(Sleep, "    algorithm: hyperband\n    metric: loss_d\n    min_resource: 1"), "sweep.early_stopping.metric", "sleep trials report only 'objective'" },
        { WithStopping(Sleep.Replace("metric: objective", "metric: accuracy", StringComparison.Ordinal), "    algorithm: asha\n    min_resource: 1"), "sweep.objective.metric", "sleep trials report only 'objective'" },
        // ASHA / Hyperband rungs and the median rule's grace period.
        { WithStopping(Sleep, "    algorithm: asha\n    min_resource: 9"), "sweep.early_stopping.min_resource", "must be below trial.sleep.reports (9)" },
        { WithStopping(Sleep, "    algorithm: asha\n    min_resource: 5\n    max_resource: 5"), "sweep.early_stopping.max_resource", "above min_resource (5)" },
        { WithStopping(Pbt.Replace("algorithm: pbt", "algorithm: random", StringComparison.Ordinal), "    algorithm: asha\n    min_resource: 3000"), "sweep.early_stopping.min_resource", "must be below trial.training.steps (3000)" },
        { WithStopping(Sleep, "    algorithm: asha\n    min_resource: 1\n    reduction_factor: 1"), "sweep.early_stopping.reduction_factor", "between 2 and 100" },
        { WithStopping(Sleep, "    algorithm: hyperband\n    min_resource: 1\n    reduction_factor: 3\n    brackets: 4"), "sweep.early_stopping.brackets", "must be <= 3" },
        { WithStopping(Sleep, "    algorithm: median\n    min_resource: 10"), "sweep.early_stopping.min_resource", "no trial would ever be judged" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_combinations_are_rejected_naming_the_field(string yaml, string field, string message)
    {
        var error = Names(Rejects(() => SweepSpecReader.FromYaml(yaml)), field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
