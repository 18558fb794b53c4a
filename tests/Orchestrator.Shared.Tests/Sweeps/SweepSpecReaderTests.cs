using Google.Protobuf.Reflection;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;
using Orchestrator.Shared.Tests.Specs;
using static Orchestrator.Shared.Tests.Specs.SpecAssert;

namespace Orchestrator.Shared.Tests.Sweeps;

public sealed class SweepSpecReaderTests
{
    internal const string Valid = """
        sweep:
          name: ring8-lr
          trial:
            kind: gan
            training:
              steps: 100
          parameters:
            - name: optimizer.generator.lr
              type: log_uniform
              min: 1e-5
              max: 1e-3
            - name: loss.type
              type: categorical
              values: [bce_nonsaturating, least_squares]
            - name: model.hidden
              type: int
              min: 32
              max: 256
          objective:
            metric: modes_covered
            goal: maximize
          search:
            algorithm: random
            seed: 7
          budget:
            max_trials: 20
            parallel_trials: 4
            max_failed_trials: 3
          resources:
            workers: 2
            devices: 1
        """;

    [Fact]
    public void Reads_every_section_of_a_valid_sweep()
    {
        var spec = SweepSpecReader.FromYaml(Valid);

        Assert.Equal("ring8-lr", spec.Name);
        Assert.Equal(100, spec.Trial.Training.Steps);
        Assert.Equal(3, spec.Parameters.Count);
        Assert.Equal(ParameterTypes.LogUniform, spec.Parameters[0].Type);
        Assert.Equal(1e-5, spec.Parameters[0].Min);
        Assert.Equal(["bce_nonsaturating", "least_squares"], spec.Parameters[1].Values);
        Assert.Equal(Goals.Maximize, spec.Objective.Goal);
        Assert.Equal(7, spec.Search.Seed);
        Assert.Equal(20, spec.Budget.MaxTrials);
        Assert.Equal(3, spec.Budget.MaxFailedTrials);
        Assert.Equal(3, spec.Budget.MaxRetries);
        Assert.Equal(2, spec.Resources.Workers);
    }

    [Fact]
    public void Proto_round_trip_keeps_the_spec()
    {
        var spec = SweepSpecReader.FromYaml(Valid);
        var back = SweepSpecProto.FromProto(spec.ToProto(), new SweepLimits());

        Assert.Equal(spec.ToProto(), back.ToProto());
        Assert.Equal(spec.Trial, back.Trial);
        Assert.Equal(spec.Budget, back.Budget);
    }

    public static TheoryData<string, string, string> Malformed() => new()
    {
        // YAML and layout.
        { "sweep: [unclosed", "sweep", "invalid YAML" },
        { "- a list", "sweep", "must be a YAML mapping" },
        { "trial: {}", "sweep", "missing" },
        { "sweep: 3", "sweep", "must be a mapping" },
        { Replace("  name: ring8-lr", "  name: ring8-lr\n  colour: blue"), "sweep.colour", "unknown key" },
        { Replace("  name: ring8-lr", "  name: 'has spaces'"), "sweep.name", "letters, digits" },
        // Parameters.
        { Replace("optimizer.generator.lr", "optimizer.gen.lr"), "sweep.parameters[0].name", "not a trial field" },
        { Replace("optimizer.generator.lr", "optimizer.generator"), "sweep.parameters[0].name", "is a section" },
        { Replace("optimizer.generator.lr", "seed.x"), "sweep.parameters[0].name", "not a trial field" },
        { Replace("      type: log_uniform", "      type: normal"), "sweep.parameters[0].type", "unknown value 'normal'" },
        { Replace("      min: 1e-5", "      min: .nan"), "sweep.parameters[0].min", "finite" },
        { Replace("      max: 1e-3", "      max: NaN"), "sweep.parameters[0].max", "finite" },
        { Replace("      min: 1e-5", "      min: 1e-2"), "sweep.parameters[0].min", "inverted" },
        { Replace("      min: 1e-5", "      min: 1e-3"), "sweep.parameters[0].min", "empty" },
        { Replace("      min: 1e-5", "      min: 0"), "sweep.parameters[0].min", "must be > 0 for log_uniform" },
        { Replace("      min: 1e-5\n", ""), "sweep.parameters[0].min", "required" },
        { Replace("      max: 1e-3", "      max: 20"), "sweep.parameters[0].max", "gives an invalid trial" },
        { Replace("      min: 1e-5", "      min: 1e-5\n      values: [1]"), "sweep.parameters[0].values", "only for categorical" },
        { Replace("      min: 1e-5", "      min: 1e-5\n      colour: red"), "sweep.parameters[0].colour", "unknown key" },
        { Replace("values: [bce_nonsaturating, least_squares]", "values: []"), "sweep.parameters[1].values", "non-empty" },
        { Replace("values: [bce_nonsaturating, least_squares]", "values: [bce_nonsaturating, bogus]"), "sweep.parameters[1].values[1]", "gives an invalid trial" },
        { Replace("values: [bce_nonsaturating, least_squares]", "values: [hinge, hinge]"), "sweep.parameters[1].values[1]", "listed twice" },
        { Replace("values: [bce_nonsaturating, least_squares]", "values: bce"), "sweep.parameters[1].values", "must be a list" },
        { Replace("      min: 32", "      min: 32.5"), "sweep.parameters[2].min", "whole number" },
        { Replace("    - name: model.hidden\n      type: int", "    - name: model.hidden\n      type: uniform"), "sweep.parameters[2].type", "integer field" },
        { Replace("    - name: model.hidden", "    - name: loss.type"), "sweep.parameters[2].name", "already a parameter" },
        { Replace("    - name: model.hidden", "    - name: data.dataset"), "sweep.parameters[2].type", "numeric trial field" },
        { Replace("      max: 256", "      max: 256\n      grid_points: 1"), "sweep.parameters[2].grid_points", "between 2 and 1000" },
        { Replace("  parameters:", "  parameters: []\n  unused:"), "sweep.parameters", "at least one" },
        { Replace("  parameters:", "  parameters: 5\n  unused:"), "sweep.parameters", "must be a list" },
        // Objective, search, early stopping.
        { Replace("    goal: maximize", "    goal: up"), "sweep.objective.goal", "unknown value 'up'" },
        { Replace("    metric: modes_covered", "    metric: 'a b'"), "sweep.objective.metric", "metric name" },
        { Replace("    algorithm: random", "    algorithm: bayes"), "sweep.search.algorithm", "unknown value 'bayes'" },
        { Replace("    seed: 7", "    seed: -1"), "sweep.search.seed", ">= 0" },
        { Replace("    seed: 7", "    seed: 7\n    gamma: 1.5"), "sweep.search.gamma", "< 1" },
        { Replace("    seed: 7", "    seed: 7\n    perturb_factors: [0.8, -1]"), "sweep.search.perturb_factors[1]", "> 0" },
        { Replace("  budget:", "  early_stopping:\n    algorithm: sometimes\n  budget:"), "sweep.early_stopping.algorithm", "unknown value" },
        { Replace("  budget:", "  early_stopping:\n    algorithm: asha\n    min_resource: 100\n    max_resource: 50\n  budget:"), "sweep.early_stopping.max_resource", "above min_resource" },
        // Budget and resources.
        { Replace("    max_trials: 20", "    max_trials: 0"), "sweep.budget.max_trials", "between 1 and" },
        { Replace("    max_trials: 20", "    max_trials: 20000"), "sweep.budget.max_trials", "cap" },
        { Replace("    max_trials: 20", "    max_trials: twenty"), "sweep.budget.max_trials", "must be an integer" },
        { Replace("    parallel_trials: 4", "    parallel_trials: 0"), "sweep.budget.parallel_trials", "between 1 and" },
        { Replace("    max_failed_trials: 3", "    max_failed_trials: -1"), "sweep.budget.max_failed_trials", ">= 0" },
        { Replace("    max_failed_trials: 3", "    max_retries: 1000"), "sweep.budget.max_retries", "between 0 and 100" },
        { Replace("    workers: 2", "    workers: 0"), "sweep.resources.workers", "between 1 and" },
        { Replace("    devices: 1", "    devices: 65"), "sweep.resources.devices", "between 1 and 64" },
        // The template itself.
        { Replace("      steps: 100", "      steps: -5"), "sweep.trial.training.steps", "between 1 and" },
        { Replace("    kind: gan", "    kind: magic"), "sweep.trial.kind", "unknown value 'magic'" },
        { Replace("    kind: gan", "    kind: gan\n    sleep:\n      seconds: 1"), "sweep.trial.sleep", "only used by kind sleep" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_sweeps_are_rejected_naming_the_field(string yaml, string field, string message)
    {
        var error = Names(Rejects(() => SweepSpecReader.FromYaml(yaml)), field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void There_are_at_least_30_malformed_cases() => Assert.True(Malformed().Count >= 30);

    [Fact]
    public void Oversized_spec_is_rejected()
    {
        var yaml = Valid + "\n# " + new string('x', SweepLimits.MaxDocumentChars);
        var error = RejectsOnly(() => SweepSpecReader.FromYaml(yaml), "sweep");
        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_categorical_values_are_rejected()
    {
        var values = string.Join(", ", Enumerable.Range(0, SweepLimits.MaxCategoricalValues + 1));
        var yaml = Replace("values: [bce_nonsaturating, least_squares]", $"values: [{values}]");
        Assert.Contains("limit", Names(Rejects(() => SweepSpecReader.FromYaml(yaml)), "sweep.parameters[1].values").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Workers_above_the_cluster_size_are_rejected_when_the_cluster_is_known()
    {
        var limits = new SweepLimits { ClusterWorkers = 1 };
        var error = RejectsOnly(() => SweepSpecReader.FromYaml(Valid, limits: limits), "sweep.resources.workers");
        Assert.Contains("workers in the cluster", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wire_form_is_validated_like_the_file()
    {
        var proto = SweepSpecReader.FromYaml(Valid).ToProto();
        proto.Budget.MaxTrials = 0;
        proto.Parameters[0].Max = double.NaN;
        proto.Trial.Training.Steps = 0;
        var errors = Rejects(() => SweepSpecProto.FromProto(proto, new SweepLimits()));

        Names(errors, "sweep.budget.max_trials");
        Names(errors, "sweep.parameters[0].max");
        Names(errors, "sweep.trial.training.steps");
    }

    [Fact]
    public void Oversized_wire_form_is_rejected()
    {
        var proto = SweepSpecReader.FromYaml(Valid).ToProto();
        proto.Name = new string('a', SweepLimits.MaxSerializedBytes + 1);
        RejectsOnly(() => SweepSpecProto.FromProto(proto, new SweepLimits()), "sweep");
    }

    [Fact]
    public void Proto_field_names_are_the_yaml_keys_in_every_sweep_section()
    {
        // Each sweep-level section's unknown-key error lists the keys the reader knows, in its order.
        var sections = new (string Path, MessageDescriptor Message, string Yaml)[]
        {
            ("sweep", Protos.SweepSpec.Descriptor, "sweep:\n  not_a_key: 1\n"),
            ("sweep.parameters[0]", Protos.ParameterSpec.Descriptor, "sweep:\n  parameters:\n    - not_a_key: 1\n"),
            ("sweep.objective", Protos.ObjectiveSpec.Descriptor, "sweep:\n  objective:\n    not_a_key: 1\n"),
            ("sweep.search", Protos.SearchSpec.Descriptor, "sweep:\n  search:\n    not_a_key: 1\n"),
            ("sweep.early_stopping", Protos.EarlyStoppingSpec.Descriptor, "sweep:\n  early_stopping:\n    not_a_key: 1\n"),
            ("sweep.budget", Protos.BudgetSpec.Descriptor, "sweep:\n  budget:\n    not_a_key: 1\n"),
            ("sweep.resources", Protos.ResourcesSpec.Descriptor, "sweep:\n  resources:\n    not_a_key: 1\n"),
        };
        foreach (var (path, message, yaml) in sections)
        {
            var error = Names(Rejects(() => SweepSpecReader.FromYaml(yaml)), path + ".not_a_key");
            var keys = error.Message["unknown key; allowed keys: ".Length..].Split(", ");
            Assert.Equal(message.Fields.InDeclarationOrder().Select(f => f.Name), keys);
        }
    }

    private static string Replace(string from, string to)
    {
        Assert.Contains(from, Valid, StringComparison.Ordinal);
        return Valid.Replace(from, to, StringComparison.Ordinal);
    }
}
