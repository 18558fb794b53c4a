using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Training;

public sealed class GanTrainerTests
{
    static GanTrainerTests() => torch.set_num_threads(1);

    private static Dictionary<string, Tensor> State(GanTrainer t)
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (k, v) in t.G.state_dict()) state["G." + k] = v.clone();
        foreach (var (k, v) in t.D.state_dict()) state["D." + k] = v.clone();
        return state;
    }

    private static void AssertBitwiseEqual(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, tensor) in expected)
            Assert.True(tensor.eq(actual[key]).all().item<bool>(), $"{key} differs after resume");
    }

    public static TheoryData<string> ResumeCases => new() { "mlp_wgan_gp_adaptive", "dcgan_conditional_batchnorm_rmsprop" };

    [Theory]
    [MemberData(nameof(ResumeCases))]
    public void Resuming_from_step_n_gives_the_same_parameters_as_never_stopping(string name)
    {
        var spec = name.StartsWith("mlp") ? TrainerFixtures.SmallMixture(steps: 12) : TrainerFixtures.TinyDcgan(steps: 6);
        int half = spec.Training.Steps / 2;
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);

        using var straight = new GanTrainer(spec, data, torch.CPU);
        for (int i = 0; i < spec.Training.Steps; i++) straight.TrainStep();

        var checkpoint = new MemoryStream();
        using (var first = new GanTrainer(spec, data, torch.CPU))
        {
            for (int i = 0; i < half; i++) first.TrainStep();
            first.SaveCheckpoint(checkpoint);
        }
        checkpoint.Position = 0;
        using var resumed = new GanTrainer(spec, data, torch.CPU);
        resumed.LoadCheckpoint(checkpoint, "memory");
        Assert.Equal(half, resumed.Step);
        StepStats last = default;
        for (int i = half; i < spec.Training.Steps; i++) last = resumed.TrainStep();

        AssertBitwiseEqual(State(straight), State(resumed));
        Assert.Equal(straight.GeneratorLr, resumed.GeneratorLr);
        Assert.Equal(straight.DataPosition, resumed.DataPosition);
        Assert.Equal(spec.Training.Steps, last.Step);
    }

    [Fact]
    public void Two_trainers_with_the_same_seed_start_identical_and_different_seeds_do_not()
    {
        var spec = TrainerFixtures.SmallMixture();
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var a = new GanTrainer(spec, data, torch.CPU);
        using var b = new GanTrainer(spec, data, torch.CPU);
        using var c = new GanTrainer(spec with { Seed = 4 }, data, torch.CPU);
        AssertBitwiseEqual(State(a), State(b));
        Assert.False(State(a)["G.body.linear0.weight"].eq(State(c)["G.body.linear0.weight"]).all().item<bool>());
    }

    [Fact]
    public void Adaptive_controller_changes_the_generator_learning_rate_during_training()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 12);
        spec = spec with { Training = spec.Training with { LrSchedule = LrSchedules.Constant } };
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        var rates = new HashSet<double>();
        double decided = spec.Optimizer.Generator.Lr;
        for (int i = 0; i < 12; i++)
        {
            var stats = trainer.TrainStep();
            // Each step runs at the rate the controller decided after the step before.
            Assert.Equal(decided, stats.GeneratorLr);
            rates.Add(stats.GeneratorLr);
            decided = trainer.Controller!.LearningRate;
        }
        // Window 3 and factor 1.5: four decisions; unless every window fell inside the band the rate moved.
        Assert.True(rates.Count > 1 || trainer.Controller!.LastDecision == AdaptiveDecision.Hold);
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("cosine")]
    public void Learning_rate_schedule_decays_both_rates_to_near_zero_by_the_last_step(string schedule)
    {
        var spec = TrainerFixtures.SmallMixture(steps: 10) with { AdaptiveLr = new AdaptiveLrSpec() };
        spec = spec with { Training = spec.Training with { LrSchedule = schedule } };
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        var first = trainer.TrainStep();
        StepStats last = first;
        for (int i = 1; i < 10; i++) last = trainer.TrainStep();
        Assert.Equal(spec.Optimizer.Generator.Lr, first.GeneratorLr, 12);
        Assert.Equal(spec.Optimizer.Discriminator.Lr, first.DiscriminatorLr, 12);
        double expected = LrSchedules.Factor(schedule, 9, 10) * spec.Optimizer.Generator.Lr;
        Assert.Equal(expected, last.GeneratorLr, 12);
        Assert.True(last.GeneratorLr < 0.11 * spec.Optimizer.Generator.Lr);
    }

    [Fact]
    public void Wgan_weight_clipping_keeps_every_critic_weight_inside_the_bound()
    {
        var spec = TrainerFixtures.SmallMixture(loss: LossTypes.Wgan) with { Loss = new LossSpec { Type = LossTypes.Wgan, ClipValue = 0.02 } };
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        foreach (var p in trainer.D.parameters())
            Assert.True(p.abs().max().item<float>() <= 0.02f + 1e-7f);
    }

    [Fact]
    public void Non_finite_discriminator_weights_are_reported_as_a_non_finite_loss()
    {
        var spec = TrainerFixtures.SmallMixture(loss: LossTypes.NonSaturating) with { Loss = new LossSpec { Type = LossTypes.NonSaturating } };
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        using (torch.no_grad()) trainer.D.parameters().First().fill_(double.NaN);
        var stats = trainer.TrainStep();
        Assert.Equal("d_loss is NaN", stats.NonFiniteLoss);
    }

    [Fact]
    public void Loading_a_checkpoint_of_other_models_fails_naming_the_source()
    {
        var spec = TrainerFixtures.SmallMixture();
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        var stream = new MemoryStream();
        using (var small = new GanTrainer(spec, data, torch.CPU)) small.SaveCheckpoint(stream);
        stream.Position = 0;
        using var wide = new GanTrainer(spec with { Model = spec.Model with { Hidden = 48 } }, data, torch.CPU);
        var e = Assert.Throws<InvalidDataException>(() => wide.LoadCheckpoint(stream, "run/checkpoints/step-00000010.ckpt"));
        Assert.Contains("run/checkpoints/step-00000010.ckpt", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_checkpoint_is_rejected()
    {
        var spec = TrainerFixtures.SmallMixture();
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        var e = Assert.Throws<InvalidDataException>(() => trainer.LoadCheckpoint(new MemoryStream("hello world, not a checkpoint"u8.ToArray()), "x.ckpt"));
        Assert.Contains("bad magic", e.Message);
    }
}
