using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Tests.Specs;

public sealed class TrialSpecValidatorTests
{
    [Fact]
    public void Default_trial_is_valid()
    {
        Assert.Empty(TrialSpecValidator.Validate(new TrialSpec(), "trial"));
    }

    [Fact]
    public void Full_sample_trial_is_valid()
    {
        Assert.Empty(TrialSpecValidator.Validate(SampleTrials.FullRecord, "trial"));
    }

    [Fact]
    public void Errors_are_named_below_the_given_path()
    {
        var spec = new TrialSpec { Optimizer = new OptimizersSpec { Discriminator = new OptimizerSpec { Lr = 0 } } };

        var error = Assert.Single(TrialSpecValidator.Validate(spec, "sweep.base"));

        Assert.Equal("sweep.base.optimizer.discriminator.lr", error.Field);
    }

    [Fact]
    public void Without_presence_an_option_counts_as_given_when_it_differs_from_its_default()
    {
        var wgan = new TrialSpec { Loss = new LossSpec { Type = LossTypes.Wgan } };

        Assert.Empty(TrialSpecValidator.Validate(wgan, "trial"));
        var error = Assert.Single(TrialSpecValidator.Validate(wgan with { Loss = wgan.Loss with { RealLabel = 0.9 } }, "trial"));
        Assert.Equal("trial.loss.real_label", error.Field);
    }

    [Fact]
    public void Presence_callback_decides_whether_an_option_was_given()
    {
        var wgan = new TrialSpec { Loss = new LossSpec { Type = LossTypes.Wgan } };
        var asked = new List<string>();

        var errors = TrialSpecValidator.Validate(wgan, "trial", field =>
        {
            asked.Add(field);
            return field == "loss.real_label";
        });

        Assert.Equal("trial.loss.real_label", Assert.Single(errors).Field);
        // Paths are relative to the trial, as the YAML keys and proto field names below it.
        Assert.Contains("loss.real_label", asked);
        Assert.Contains("optimizer.generator.alpha", asked);
    }

    [Fact]
    public void Bad_value_is_reported_once_not_again_by_a_combination_check()
    {
        // 32 is not an image size at all; it must not also be blamed on mlp not rendering 64x64.
        var spec = new TrialSpec { Model = new ModelSpec { ImageSize = 32 } };

        var error = Assert.Single(TrialSpecValidator.Validate(spec, "trial"));

        Assert.Equal(("trial.model.image_size", "unknown value '32'; allowed: 28, 64"), (error.Field, error.Message));
    }

    [Fact]
    public void Non_finite_value_in_a_record_is_rejected()
    {
        var spec = new TrialSpec { Training = new TrainingSpec { GradClip = double.PositiveInfinity } };

        var error = Assert.Single(TrialSpecValidator.Validate(spec, "trial"));

        Assert.Equal(("trial.training.grad_clip", "must be a finite number, got Infinity"), (error.Field, error.Message));
    }
}
