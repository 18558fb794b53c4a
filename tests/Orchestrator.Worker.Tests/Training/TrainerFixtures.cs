using Orchestrator.Shared.Specs;

namespace Orchestrator.Worker.Tests.Training;

/// <summary>Small, fast trial specs for tests.</summary>
internal static class TrainerFixtures
{
    public static TrialSpec SmallMixture(string loss = LossTypes.WganGp, int steps = 20) => new()
    {
        Seed = 3,
        Data = new DataSpec { Dataset = Datasets.Ring8, BatchSize = 64, MixtureSize = 4096 },
        Model = new ModelSpec { Architecture = Architectures.Mlp, Hidden = 32, Layers = 2 },
        Latent = new LatentSpec { Dim = 4 },
        Loss = new LossSpec { Type = loss },
        Training = new TrainingSpec { Steps = steps, NCritic = 2, LogEvery = 5, EvalEvery = 10, CheckpointEvery = 10, GradClip = 5.0, LrSchedule = LrSchedules.Cosine },
        AdaptiveLr = new AdaptiveLrSpec { Enabled = true, Window = 3, Factor = 1.5 },
        Evaluation = new EvaluationSpec { Samples = 500, GridSamples = 16 },
    };

    public static TrialSpec TinyDcgan(int steps = 6) => new()
    {
        Seed = 5,
        Data = new DataSpec { Dataset = Datasets.MnistSubset, BatchSize = 16 },
        Model = new ModelSpec { Architecture = Architectures.Dcgan, Features = 4, Conditional = true },
        Latent = new LatentSpec { Dim = 8, Prior = Priors.TruncatedNormal },
        Loss = new LossSpec { Type = LossTypes.NonSaturating, RealLabel = 0.9 },
        Optimizer = new OptimizersSpec { Discriminator = new OptimizerSpec { Type = Optimizers.RmsProp, Lr = 1e-4 } },
        Training = new TrainingSpec { Steps = steps, NCritic = 1, LogEvery = 2, EvalEvery = 3, CheckpointEvery = 3 },
        Evaluation = new EvaluationSpec { Samples = 100, GridSamples = 16 },
    };
}
