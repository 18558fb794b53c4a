using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;
using Orchestrator.Shared.Trials;
using static Orchestrator.Shared.Tests.Specs.SpecAssert;

namespace Orchestrator.Shared.Tests.Sweeps;

public sealed class TrialTemplateTests
{
    [Fact]
    public void Applies_a_configuration_to_the_template()
    {
        var template = new TrialSpec { Training = new TrainingSpec { Steps = 100 } };
        var trial = TrialTemplate.Apply(template, new Dictionary<string, string>
        {
            ["optimizer.generator.lr"] = "0.001",
            ["loss.type"] = "hinge",
            ["model.hidden"] = "64",
        });

        Assert.Equal(0.001, trial.Optimizer.Generator.Lr);
        Assert.Equal(LossTypes.Hinge, trial.Loss.Type);
        Assert.Equal(64, trial.Model.Hidden);
        Assert.Equal(100, trial.Training.Steps);
    }

    [Fact]
    public void An_applied_value_that_breaks_the_trial_names_the_trial_field()
    {
        var error = RejectsOnly(() => TrialTemplate.Apply(new TrialSpec(), new Dictionary<string, string> { ["model.layers"] = "0" }), "trial.model.layers");
        Assert.Contains("between 1 and 64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Applied_values_meet_the_combination_rules()
    {
        // real_label is valid on its own but not with a WGAN loss.
        var template = new TrialSpec { Loss = new LossSpec { Type = LossTypes.Wgan } };
        RejectsOnly(() => TrialTemplate.Apply(template, new Dictionary<string, string> { ["loss.real_label"] = "0.9" }), "trial.loss.real_label");
    }

    [Fact]
    public void Quadratic_trials_take_their_parameters_and_compute_the_known_objective()
    {
        var template = new TrialSpec { Kind = TrialKinds.Quadratic };
        var trial = TrialTemplate.Apply(template, new Dictionary<string, string> { ["quadratic.x"] = "1", ["quadratic.y"] = "-2" });

        Assert.Equal(0.0, BuiltinTrials.QuadraticObjective(trial.Quadratic, trial.Seed));
        Assert.Equal(5.0, BuiltinTrials.QuadraticObjective(new QuadraticSpec { X = 2, Y = 0 }, 1));
    }

    [Fact]
    public void Sleep_objective_is_seeded_and_intermediate_values_approach_it()
    {
        Assert.Equal(BuiltinTrials.SleepObjective(3), BuiltinTrials.SleepObjective(3));
        Assert.NotEqual(BuiltinTrials.SleepObjective(3), BuiltinTrials.SleepObjective(4));
        Assert.True(BuiltinTrials.SleepIntermediate(3, 1, 3) > BuiltinTrials.SleepIntermediate(3, 2, 3));
        Assert.Equal(BuiltinTrials.SleepObjective(3), BuiltinTrials.SleepIntermediate(3, 3, 3));
    }

    [Fact]
    public void Sleep_and_quadratic_sections_round_trip_through_yaml_and_proto()
    {
        var spec = TrialSpecReader.FromYaml("trial:\n  kind: sleep\n  sleep:\n    seconds: 0.25\n    reports: 2\n");
        Assert.Equal(0.25, spec.Sleep.Seconds);
        Assert.Equal(spec, TrialSpecProto.FromProto(spec.ToProto()));
        RejectsOnly(() => TrialSpecReader.FromYaml("trial:\n  kind: sleep\n  sleep:\n    seconds: -1\n"), "trial.sleep.seconds");
        RejectsOnly(() => TrialSpecReader.FromYaml("trial:\n  kind: sleep\n  quadratic:\n    x: 1\n"), "trial.quadratic");
    }
}
