namespace Orchestrator.Shared.Specs;

/// <summary>One training trial: the `trial:` block of a trial or sweep file, validated.</summary>
public sealed record TrialSpec
{
    public string Kind { get; init; } = TrialKinds.Gan;
    public int Seed { get; init; } = 1;
    public string Device { get; init; } = "cpu";
    public DataSpec Data { get; init; } = new();
    public ModelSpec Model { get; init; } = new();
    public LatentSpec Latent { get; init; } = new();
    public LossSpec Loss { get; init; } = new();
    public OptimizersSpec Optimizer { get; init; } = new();
    public TrainingSpec Training { get; init; } = new();
    public AdaptiveLrSpec AdaptiveLr { get; init; } = new();
    public EvaluationSpec Evaluation { get; init; } = new();
    /// <summary>Settings of the built-in `sleep` kind.</summary>
    public SleepSpec Sleep { get; init; } = new();
    /// <summary>Settings of the built-in `quadratic` kind.</summary>
    public QuadraticSpec Quadratic { get; init; } = new();
}

/// <summary>Trial kinds the engine runs.</summary>
public static class TrialKinds
{
    public const string Gan = "gan";
    /// <summary>Sleeps and reports a seeded objective: exercises the orchestration without training.</summary>
    public const string Sleep = "sleep";
    /// <summary>Returns a known function of its parameters: checks that a search finds the optimum.</summary>
    public const string Quadratic = "quadratic";
    public static readonly string[] All = [Gan, Sleep, Quadratic];
}

/// <summary>Where the training data comes from and how it is batched.</summary>
public sealed record DataSpec
{
    public string Dataset { get; init; } = Datasets.Ring8;
    /// <summary>Directory holding MNIST IDX files (raw or .gz); only for `mnist`.</summary>
    public string? Path { get; init; }
    /// <summary>Per-replica batch size (the global batch is this times the world size); the default when neither is set.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>
    /// Global batch size, set instead of <see cref="BatchSize"/>: every replica then takes this divided by the
    /// world size, which must divide it, so a trial keeps its optimisation behaviour when it is scaled out.
    /// </summary>
    public int? GlobalBatchSize { get; init; }
    /// <summary>Points drawn from a mixture dataset (ring8, grid25).</summary>
    public int MixtureSize { get; init; } = 100_000;

    /// <summary>The batch each of <paramref name="worldSize"/> replicas takes.</summary>
    /// <exception cref="ArgumentException">The global batch is not a multiple of the world size.</exception>
    public int PerReplicaBatch(int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (GlobalBatchSize is not { } global) return BatchSize;
        if (global % worldSize != 0 || global < worldSize)
            throw new ArgumentException(
                $"data.global_batch_size {global} is not a multiple of the world size {worldSize}; set a multiple of {worldSize}, or set data.batch_size (per replica) instead");
        return global / worldSize;
    }

    /// <summary>The batch of the whole group of <paramref name="worldSize"/> replicas.</summary>
    public int GlobalBatch(int worldSize) => PerReplicaBatch(worldSize) * worldSize;
}

/// <summary>Dataset names.</summary>
public static class Datasets
{
    public const string Ring8 = "ring8";
    public const string Grid25 = "grid25";
    public const string Mnist = "mnist";
    public const string MnistSubset = "mnist_subset";
    public static readonly string[] All = [Ring8, Grid25, Mnist, MnistSubset];
    public static bool IsMixture(string name) => name is Ring8 or Grid25;
}

/// <summary>Generator and discriminator architecture.</summary>
public sealed record ModelSpec
{
    public string Architecture { get; init; } = Architectures.Mlp;
    /// <summary>Hidden width of MLP layers.</summary>
    public int Hidden { get; init; } = 256;
    /// <summary>Hidden layers in each MLP network.</summary>
    public int Layers { get; init; } = 3;
    /// <summary>DCGAN base feature maps for G and D.</summary>
    public int Features { get; init; } = 64;
    /// <summary>DCGAN output side: 28 or 64 (64 upsamples the data).</summary>
    public int ImageSize { get; init; } = 28;
    /// <summary>Class label embedded into G and D.</summary>
    public bool Conditional { get; init; }
    /// <summary>Normalization in D: auto, batch, layer or none (WGAN-GP forbids batch).</summary>
    public string DiscriminatorNorm { get; init; } = Norms.Auto;
}

/// <summary>Model architectures.</summary>
public static class Architectures
{
    public const string Mlp = "mlp";
    public const string Dcgan = "dcgan";
    public static readonly string[] All = [Mlp, Dcgan];
}

/// <summary>Normalization choices for the discriminator.</summary>
public static class Norms
{
    public const string Auto = "auto";
    public const string Batch = "batch";
    public const string Layer = "layer";
    public const string None = "none";
    public static readonly string[] All = [Auto, Batch, Layer, None];

    /// <summary>What `auto` means: DCGAN's batch norm, layer norm under a gradient penalty, none in MLPs.</summary>
    public static string Resolve(ModelSpec model, LossSpec loss) => model.DiscriminatorNorm != Auto
        ? model.DiscriminatorNorm
        : model.Architecture == Architectures.Mlp ? None
        : loss.Type == LossTypes.WganGp ? Layer
        : Batch;
}

/// <summary>The latent prior G samples from.</summary>
public sealed record LatentSpec
{
    public int Dim { get; init; } = 64;
    public string Prior { get; init; } = Priors.Normal;
    /// <summary>Truncation bound (in std) for truncated_normal.</summary>
    public double Truncation { get; init; } = 2.0;
    /// <summary>Components of the Gaussian-mixture prior.</summary>
    public int MixtureComponents { get; init; } = 10;
    /// <summary>Std of each mixture component (centres are drawn from N(0, 1)).</summary>
    public double MixtureStd { get; init; } = 0.1;
}

/// <summary>Latent prior names.</summary>
public static class Priors
{
    public const string Normal = "normal";
    public const string Uniform = "uniform";
    public const string TruncatedNormal = "truncated_normal";
    public const string Mixture = "mixture";
    public static readonly string[] All = [Normal, Uniform, TruncatedNormal, Mixture];
}

/// <summary>The adversarial objective.</summary>
public sealed record LossSpec
{
    public string Type { get; init; } = LossTypes.NonSaturating;
    /// <summary>Target for real samples in D's BCE/LS loss (one-sided smoothing: 0.9).</summary>
    public double RealLabel { get; init; } = 1.0;
    /// <summary>WGAN-GP penalty weight λ.</summary>
    public double GpLambda { get; init; } = 10.0;
    /// <summary>WGAN weight-clipping bound.</summary>
    public double ClipValue { get; init; } = 0.01;
}

/// <summary>Loss names.</summary>
public static class LossTypes
{
    public const string Minimax = "bce_minimax";
    public const string NonSaturating = "bce_nonsaturating";
    public const string Wgan = "wgan";
    public const string WganGp = "wgan_gp";
    public const string Hinge = "hinge";
    public const string LeastSquares = "least_squares";
    public static readonly string[] All = [Minimax, NonSaturating, Wgan, WganGp, Hinge, LeastSquares];
}

/// <summary>One optimizer per network.</summary>
public sealed record OptimizersSpec
{
    public OptimizerSpec Generator { get; init; } = new();
    public OptimizerSpec Discriminator { get; init; } = new();
}

/// <summary>Optimizer settings for one network.</summary>
public sealed record OptimizerSpec
{
    public string Type { get; init; } = Optimizers.Adam;
    public double Lr { get; init; } = 2e-4;
    public double Beta1 { get; init; } = 0.5;
    public double Beta2 { get; init; } = 0.999;
    /// <summary>RMSprop smoothing constant.</summary>
    public double Alpha { get; init; } = 0.99;
    public double WeightDecay { get; init; }
}

/// <summary>Optimizer names.</summary>
public static class Optimizers
{
    public const string Adam = "adam";
    public const string RmsProp = "rmsprop";
    public static readonly string[] All = [Adam, RmsProp];
}

/// <summary>Loop lengths and cadences; a step is n_critic D updates then one G update.</summary>
public sealed record TrainingSpec
{
    public int Steps { get; init; } = 2000;
    public int NCritic { get; init; } = 1;
    /// <summary>Max global gradient norm per network; null disables clipping.</summary>
    public double? GradClip { get; init; }
    public int LogEvery { get; init; } = 50;
    public int EvalEvery { get; init; } = 500;
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>Checkpoints kept on disk (oldest removed first).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Intra-op threads for TorchSharp; 0 keeps the library default.</summary>
    public int Threads { get; init; }
    /// <summary>Steps between checks that data-parallel replicas hold identical parameters; 0 disables.</summary>
    public int ChecksumEvery { get; init; } = 100;
    /// <summary>
    /// How a data-parallel group splits each global batch between its ranks: <c>even</c> (every rank the same
    /// per-replica batch; reproducible) or <c>by_speed</c> (each rank's share follows its measured throughput, so a
    /// slower rank is not waited for; gradients are weighted by share, so the update is still the global batch's
    /// mean, but which rank computes which sample, and so the float rounding and BatchNorm's per-replica
    /// statistics, depends on timing).
    /// </summary>
    public string BatchSplit { get; init; } = BatchSplits.Even;
    /// <summary>How both learning rates evolve over the run: constant, or decayed to zero by the last step.</summary>
    public string LrSchedule { get; init; } = LrSchedules.Constant;
}

/// <summary>Batch split names (<see cref="TrainingSpec.BatchSplit"/>).</summary>
public static class BatchSplits
{
    public const string Even = "even";
    public const string BySpeed = "by_speed";
    public static readonly string[] All = [Even, BySpeed];
}

/// <summary>Learning-rate schedule names.</summary>
public static class LrSchedules
{
    public const string Constant = "constant";
    public const string Linear = "linear";
    public const string Cosine = "cosine";
    public static readonly string[] All = [Constant, Linear, Cosine];

    /// <summary>The multiplier of the base learning rate for the step about to run (0-based) of a run of <paramref name="steps"/>.</summary>
    public static double Factor(string schedule, int step, int steps) => schedule switch
    {
        Linear => 1.0 - (double)step / steps,
        Cosine => 0.5 * (1 + Math.Cos(Math.PI * step / steps)),
        _ => 1.0,
    };
}

/// <summary>Adapts G's learning rate to keep D's fooled rate inside a band.</summary>
public sealed record AdaptiveLrSpec
{
    public bool Enabled { get; init; }
    public double TargetLow { get; init; } = 0.3;
    public double TargetHigh { get; init; } = 0.7;
    /// <summary>Multiplier applied per adjustment (raise: ×factor, lower: ÷factor).</summary>
    public double Factor { get; init; } = 1.05;
    /// <summary>Steps between decisions; the rate is averaged over the window.</summary>
    public int Window { get; init; } = 50;
    public double MinLr { get; init; } = 1e-6;
    public double MaxLr { get; init; } = 1e-2;
}

/// <summary>Evaluation settings.</summary>
public sealed record EvaluationSpec
{
    /// <summary>Generated samples per evaluation (2,500 is the mixture protocol).</summary>
    public int Samples { get; init; } = 2500;
    /// <summary>Fixed-noise samples in the grid image (a square number).</summary>
    public int GridSamples { get; init; } = 64;
    /// <summary>Where the image classifier is cached; default is a per-user cache directory.</summary>
    public string? ClassifierCache { get; init; }
}

/// <summary>The built-in `sleep` trial: how long it sleeps and how often it reports.</summary>
public sealed record SleepSpec
{
    public double Seconds { get; init; } = 1.0;
    /// <summary>Intermediate metric reports spread evenly over the sleep.</summary>
    public int Reports { get; init; } = 3;
}

/// <summary>The built-in `quadratic` trial: objective (x - 1)^2 + (y + 2)^2 plus seeded noise.</summary>
public sealed record QuadraticSpec
{
    public double X { get; init; }
    public double Y { get; init; }
    /// <summary>Std of the seeded Gaussian noise added to the objective.</summary>
    public double Noise { get; init; }
}
