using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Tests.Specs;

/// <summary>Trial files used by several test classes.</summary>
internal static class SampleTrials
{
    /// <summary>Every section, each key away from its default where the combination rules allow.</summary>
    public const string Full = """
        trial:
          kind: gan
          seed: 7
          device: cuda:1
          data:
            dataset: mnist
            path: /data/mnist
            batch_size: 128
            mixture_size: 5000
          model:
            architecture: dcgan
            hidden: 512
            layers: 4
            features: 32
            image_size: 64
            conditional: true
            discriminator_norm: layer
          latent:
            dim: 100
            prior: truncated_normal
            truncation: 1.5
            mixture_components: 5
            mixture_std: 0.2
          loss:
            type: wgan_gp
            gp_lambda: 5
          optimizer:
            generator:
              type: adam
              lr: 0.0001
              beta1: 0.0
              beta2: 0.9
              weight_decay: 1e-5
            discriminator:
              type: rmsprop
              lr: 5e-5
              alpha: 0.9
          training:
            steps: 10000
            n_critic: 5
            grad_clip: 1.0
            log_every: 10
            eval_every: 1000
            checkpoint_every: 2000
            keep_checkpoints: 2
            threads: 4
            batch_split: by_speed
          adaptive_lr:
            enabled: true
            target_low: 0.4
            target_high: 0.6
            factor: 1.1
            window: 100
            min_lr: 1e-5
            max_lr: 1e-3
          evaluation:
            samples: 5000
            grid_samples: 100
            classifier_cache: /tmp/classifier
        """;

    /// <summary>What <see cref="Full"/> reads as.</summary>
    public static TrialSpec FullRecord => new()
    {
        Kind = "gan",
        Seed = 7,
        Device = "cuda:1",
        Data = new DataSpec { Dataset = "mnist", Path = "/data/mnist", BatchSize = 128, MixtureSize = 5000 },
        Model = new ModelSpec
        {
            Architecture = "dcgan",
            Hidden = 512,
            Layers = 4,
            Features = 32,
            ImageSize = 64,
            Conditional = true,
            DiscriminatorNorm = "layer",
        },
        Latent = new LatentSpec { Dim = 100, Prior = "truncated_normal", Truncation = 1.5, MixtureComponents = 5, MixtureStd = 0.2 },
        Loss = new LossSpec { Type = "wgan_gp", GpLambda = 5 },
        Optimizer = new OptimizersSpec
        {
            Generator = new OptimizerSpec { Type = "adam", Lr = 1e-4, Beta1 = 0, Beta2 = 0.9, WeightDecay = 1e-5 },
            Discriminator = new OptimizerSpec { Type = "rmsprop", Lr = 5e-5, Alpha = 0.9 },
        },
        Training = new TrainingSpec
        {
            Steps = 10_000,
            NCritic = 5,
            GradClip = 1.0,
            LogEvery = 10,
            EvalEvery = 1000,
            CheckpointEvery = 2000,
            KeepCheckpoints = 2,
            Threads = 4,
            BatchSplit = "by_speed",
        },
        AdaptiveLr = new AdaptiveLrSpec
        {
            Enabled = true,
            TargetLow = 0.4,
            TargetHigh = 0.6,
            Factor = 1.1,
            Window = 100,
            MinLr = 1e-5,
            MaxLr = 1e-3,
        },
        Evaluation = new EvaluationSpec { Samples = 5000, GridSamples = 100, ClassifierCache = "/tmp/classifier" },
    };

    /// <summary>A `trial:` document holding <paramref name="body"/>, a YAML (or JSON) mapping in flow style.</summary>
    public static string Trial(string body) => $"trial: {body}";
}
