using System.Text.RegularExpressions;

namespace Orchestrator.Shared.Specs;

/// <summary>The one rule set for a trial's bounds, allowed names and combinations, behind both the YAML reader and the wire.</summary>
public static partial class TrialSpecValidator
{
    /// <summary>
    /// Validates a record built in code. A record cannot say which fields were given, so a field
    /// counts as given when it differs from its default.
    /// </summary>
    public static List<SpecError> Validate(TrialSpec spec, string path) => Validate(spec, path, isSet: null);

    /// <summary>
    /// Validates <paramref name="spec"/>, naming fields below <paramref name="path"/>.
    /// <paramref name="isSet"/> says whether a field, as a dotted path relative to the trial
    /// (`loss.real_label`), was given explicitly. An option that the chosen loss or optimizer would
    /// ignore is rejected whenever it is given, even at its default value, because the user meant
    /// it to do something. Null falls back to "differs from the default".
    /// </summary>
    public static List<SpecError> Validate(TrialSpec spec, string path, Func<string, bool>? isSet)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<SpecError>();
        var t = new Fields(errors, path, "", isSet);
        var d = new TrialSpec();
        // Each check hands back the default in place of a bad value (as the YAML getters do), so
        // the combination checks below see only valid values and one mistake is reported once.
        var valid = new TrialSpec
        {
            Kind = t.OneOf("kind", spec.Kind, d.Kind, TrialKinds.All),
            Seed = t.Int("seed", spec.Seed, d.Seed, min: 0),
            Device = CheckDevice(t, spec.Device, d.Device),
            Data = CheckData(t.Section("data"), spec.Data),
            Model = CheckModel(t.Section("model"), spec.Model),
            Latent = CheckLatent(t.Section("latent"), spec.Latent),
            Loss = CheckLoss(t.Section("loss"), spec.Loss),
            Optimizer = new OptimizersSpec
            {
                Generator = CheckOptimizer(t.Section("optimizer").Section("generator"), spec.Optimizer.Generator),
                Discriminator = CheckOptimizer(t.Section("optimizer").Section("discriminator"), spec.Optimizer.Discriminator),
            },
            Training = CheckTraining(t.Section("training"), spec.Training),
            AdaptiveLr = CheckAdaptive(t.Section("adaptive_lr"), spec.AdaptiveLr),
            Evaluation = CheckEvaluation(t.Section("evaluation"), spec.Evaluation),
            Sleep = CheckSleep(t.Section("sleep"), spec.Sleep),
            Quadratic = CheckQuadratic(t.Section("quadratic"), spec.Quadratic),
        };
        CheckKindSections(valid, spec, t);
        CheckCombinations(valid, t);
        return errors;
    }

    private static string CheckDevice(Fields t, string device, string fallback)
    {
        if (device is null || !DeviceRegex().IsMatch(device))
        {
            t.Error("device", $"unknown value '{device}'; allowed: cpu, cuda, cuda:N, auto");
            return fallback;
        }
        return device;
    }

    private static DataSpec CheckData(Fields s, DataSpec spec)
    {
        var d = new DataSpec();
        var valid = new DataSpec
        {
            Dataset = s.OneOf("dataset", spec.Dataset, d.Dataset, Datasets.All),
            Path = spec.Path,
            BatchSize = s.Int("batch_size", spec.BatchSize, d.BatchSize, min: 1, max: 1 << 20),
            GlobalBatchSize = spec.GlobalBatchSize is { } global ? NullIfZero(s.Int("global_batch_size", global, 0, min: 1, max: 1 << 24)) : null,
            MixtureSize = s.Int("mixture_size", spec.MixtureSize, d.MixtureSize, min: 1, max: 10_000_000),
        };
        if (spec.GlobalBatchSize is not null && s.Given("batch_size", spec.BatchSize, d.BatchSize))
            s.Error("global_batch_size", "set either batch_size (per replica) or global_batch_size (for the whole group), not both");
        if (valid.Dataset == Datasets.Mnist && string.IsNullOrWhiteSpace(valid.Path))
            s.Error("path", "required for dataset mnist: a directory with train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]");
        if (valid.Dataset != Datasets.Mnist && valid.Path is not null)
            s.Error("path", $"only used by dataset mnist, not {valid.Dataset}");
        return valid;
    }

    private static ModelSpec CheckModel(Fields s, ModelSpec spec)
    {
        var d = new ModelSpec();
        var valid = new ModelSpec
        {
            Architecture = s.OneOf("architecture", spec.Architecture, d.Architecture, Architectures.All),
            Hidden = s.Int("hidden", spec.Hidden, d.Hidden, min: 1, max: 65_536),
            Layers = s.Int("layers", spec.Layers, d.Layers, min: 1, max: 64),
            Features = s.Int("features", spec.Features, d.Features, min: 1, max: 4096),
            ImageSize = spec.ImageSize,
            Conditional = spec.Conditional,
            DiscriminatorNorm = s.OneOf("discriminator_norm", spec.DiscriminatorNorm, d.DiscriminatorNorm, Norms.All),
        };
        if (valid.ImageSize is not (28 or 64))
        {
            s.Error("image_size", $"unknown value '{valid.ImageSize}'; allowed: 28, 64");
            valid = valid with { ImageSize = d.ImageSize };
        }
        return valid;
    }

    private static LatentSpec CheckLatent(Fields s, LatentSpec spec)
    {
        var d = new LatentSpec();
        return new LatentSpec
        {
            Dim = s.Int("dim", spec.Dim, d.Dim, min: 1, max: 65_536),
            Prior = s.OneOf("prior", spec.Prior, d.Prior, Priors.All),
            Truncation = s.Double("truncation", spec.Truncation, d.Truncation, min: 0, exclusiveMin: true),
            MixtureComponents = s.Int("mixture_components", spec.MixtureComponents, d.MixtureComponents, min: 1, max: 100_000),
            MixtureStd = s.Double("mixture_std", spec.MixtureStd, d.MixtureStd, min: 0, exclusiveMin: true),
        };
    }

    private static LossSpec CheckLoss(Fields s, LossSpec spec)
    {
        var d = new LossSpec();
        var valid = new LossSpec
        {
            Type = s.OneOf("type", spec.Type, d.Type, LossTypes.All),
            RealLabel = s.Double("real_label", spec.RealLabel, d.RealLabel, min: 0, max: 1, exclusiveMin: true),
            GpLambda = s.Double("gp_lambda", spec.GpLambda, d.GpLambda, min: 0),
            ClipValue = s.Double("clip_value", spec.ClipValue, d.ClipValue, min: 0, exclusiveMin: true),
        };
        if (s.Given("real_label", spec.RealLabel, d.RealLabel) && valid.Type is LossTypes.Wgan or LossTypes.WganGp or LossTypes.Hinge)
            s.Error("real_label", $"label smoothing applies to bce_minimax, bce_nonsaturating and least_squares, not {valid.Type}");
        if (s.Given("gp_lambda", spec.GpLambda, d.GpLambda) && valid.Type != LossTypes.WganGp)
            s.Error("gp_lambda", $"only used by wgan_gp, not {valid.Type}");
        if (s.Given("clip_value", spec.ClipValue, d.ClipValue) && valid.Type != LossTypes.Wgan)
            s.Error("clip_value", $"only used by wgan (weight clipping), not {valid.Type}");
        return valid;
    }

    private static OptimizerSpec CheckOptimizer(Fields s, OptimizerSpec spec)
    {
        var d = new OptimizerSpec();
        var valid = new OptimizerSpec
        {
            Type = s.OneOf("type", spec.Type, d.Type, Optimizers.All),
            Lr = s.Double("lr", spec.Lr, d.Lr, min: 0, max: 10, exclusiveMin: true),
            Beta1 = s.Double("beta1", spec.Beta1, d.Beta1, min: 0, max: 1),
            Beta2 = s.Double("beta2", spec.Beta2, d.Beta2, min: 0, max: 1),
            Alpha = s.Double("alpha", spec.Alpha, d.Alpha, min: 0, max: 1),
            WeightDecay = s.Double("weight_decay", spec.WeightDecay, d.WeightDecay, min: 0),
        };
        // beta2 = 1 passes the [0, 1] range but stops Adam's second moment from ever forgetting.
        if (valid.Beta2 >= 1)
            s.Error("beta2", "must be < 1");
        var beta1Given = s.Given("beta1", spec.Beta1, d.Beta1);
        if (valid.Type == Optimizers.RmsProp && (beta1Given || s.Given("beta2", spec.Beta2, d.Beta2)))
            s.Error(beta1Given ? "beta1" : "beta2", "betas apply to adam; rmsprop takes alpha");
        if (valid.Type == Optimizers.Adam && s.Given("alpha", spec.Alpha, d.Alpha))
            s.Error("alpha", "alpha applies to rmsprop; adam takes beta1 and beta2");
        return valid;
    }

    private static TrainingSpec CheckTraining(Fields s, TrainingSpec spec)
    {
        var d = new TrainingSpec();
        return new TrainingSpec
        {
            Steps = s.Int("steps", spec.Steps, d.Steps, min: 1, max: 100_000_000),
            NCritic = s.Int("n_critic", spec.NCritic, d.NCritic, min: 1, max: 100),
            GradClip = s.OptionalDouble("grad_clip", spec.GradClip, min: 0, exclusiveMin: true),
            LogEvery = s.Int("log_every", spec.LogEvery, d.LogEvery, min: 1),
            EvalEvery = s.Int("eval_every", spec.EvalEvery, d.EvalEvery, min: 1),
            CheckpointEvery = s.Int("checkpoint_every", spec.CheckpointEvery, d.CheckpointEvery, min: 1),
            KeepCheckpoints = s.Int("keep_checkpoints", spec.KeepCheckpoints, d.KeepCheckpoints, min: 1, max: 1000),
            Threads = s.Int("threads", spec.Threads, d.Threads, min: 0, max: 1024),
            LrSchedule = s.OneOf("lr_schedule", spec.LrSchedule, d.LrSchedule, LrSchedules.All),
            ChecksumEvery = s.Int("checksum_every", spec.ChecksumEvery, d.ChecksumEvery, min: 0),
            BatchSplit = s.OneOf("batch_split", spec.BatchSplit, d.BatchSplit, BatchSplits.All),
        };
    }

    private static AdaptiveLrSpec CheckAdaptive(Fields s, AdaptiveLrSpec spec)
    {
        var d = new AdaptiveLrSpec();
        var valid = new AdaptiveLrSpec
        {
            Enabled = spec.Enabled,
            TargetLow = s.Double("target_low", spec.TargetLow, d.TargetLow, min: 0, max: 1),
            TargetHigh = s.Double("target_high", spec.TargetHigh, d.TargetHigh, min: 0, max: 1),
            Factor = s.Double("factor", spec.Factor, d.Factor, min: 1, max: 10, exclusiveMin: true),
            Window = s.Int("window", spec.Window, d.Window, min: 1, max: 1_000_000),
            MinLr = s.Double("min_lr", spec.MinLr, d.MinLr, min: 0, exclusiveMin: true),
            MaxLr = s.Double("max_lr", spec.MaxLr, d.MaxLr, min: 0, exclusiveMin: true),
        };
        if (valid.TargetLow >= valid.TargetHigh)
            s.Error("target_low", $"must be below target_high ({BoundsText.Number(valid.TargetHigh)}), got {BoundsText.Number(valid.TargetLow)}");
        if (valid.MinLr > valid.MaxLr)
            s.Error("min_lr", $"must not exceed max_lr ({BoundsText.Number(valid.MaxLr)}), got {BoundsText.Number(valid.MinLr)}");
        return valid;
    }

    private static EvaluationSpec CheckEvaluation(Fields s, EvaluationSpec spec)
    {
        var d = new EvaluationSpec();
        var valid = new EvaluationSpec
        {
            Samples = s.Int("samples", spec.Samples, d.Samples, min: 10, max: 1_000_000),
            GridSamples = s.Int("grid_samples", spec.GridSamples, d.GridSamples, min: 1, max: 4096),
            ClassifierCache = spec.ClassifierCache,
        };
        var side = (int)Math.Round(Math.Sqrt(valid.GridSamples));
        if (side * side != valid.GridSamples)
            s.Error("grid_samples", $"must be a square number (16, 64, 100, ...), got {valid.GridSamples}");
        return valid;
    }

    private static SleepSpec CheckSleep(Fields s, SleepSpec spec)
    {
        var d = new SleepSpec();
        return new SleepSpec
        {
            Seconds = s.Double("seconds", spec.Seconds, d.Seconds, min: 0, max: 86_400),
            Reports = s.Int("reports", spec.Reports, d.Reports, min: 0, max: 10_000),
        };
    }

    private static QuadraticSpec CheckQuadratic(Fields s, QuadraticSpec spec)
    {
        var d = new QuadraticSpec();
        return new QuadraticSpec
        {
            X = s.Double("x", spec.X, d.X, min: -1e6, max: 1e6),
            Y = s.Double("y", spec.Y, d.Y, min: -1e6, max: 1e6),
            Noise = s.Double("noise", spec.Noise, d.Noise, min: 0, max: 1e6),
        };
    }

    /// <summary>A section of a built-in kind given for another kind would silently do nothing: rejected.</summary>
    private static void CheckKindSections(TrialSpec valid, TrialSpec spec, Fields t)
    {
        var sleep = new SleepSpec();
        var quadratic = new QuadraticSpec();
        var sleepGiven = t.Given("sleep.seconds", spec.Sleep.Seconds, sleep.Seconds) || t.Given("sleep.reports", spec.Sleep.Reports, sleep.Reports);
        var quadraticGiven = t.Given("quadratic.x", spec.Quadratic.X, quadratic.X) || t.Given("quadratic.y", spec.Quadratic.Y, quadratic.Y)
            || t.Given("quadratic.noise", spec.Quadratic.Noise, quadratic.Noise);
        if (sleepGiven && valid.Kind != TrialKinds.Sleep)
            t.Error("sleep", $"only used by kind sleep, not {valid.Kind}");
        if (quadraticGiven && valid.Kind != TrialKinds.Quadratic)
            t.Error("quadratic", $"only used by kind quadratic, not {valid.Kind}");
    }

    private static void CheckCombinations(TrialSpec spec, Fields t)
    {
        var isImage = !Datasets.IsMixture(spec.Data.Dataset);
        if (spec.Model.Architecture == Architectures.Dcgan && !isImage)
            t.Error("model.architecture", $"dcgan needs an image dataset (mnist, mnist_subset); {spec.Data.Dataset} is 2-D points, use mlp");
        if (spec.Model.Architecture == Architectures.Mlp && spec.Model.ImageSize != 28)
            t.Error("model.image_size", "only dcgan renders 64x64; mlp works on the data's own size (28)");
        if (spec.Loss.Type == LossTypes.WganGp && spec.Model.DiscriminatorNorm == Norms.Batch)
            t.Error("model.discriminator_norm", "batch cannot be used with loss wgan_gp (the penalty is per sample and batch norm mixes samples); allowed: layer, none");
    }

    private static int? NullIfZero(int value) => value == 0 ? null : value;

    [GeneratedRegex("^(cpu|cuda|auto|cuda:[0-9]{1,3})$")]
    private static partial Regex DeviceRegex();

    /// <summary>Checks for the fields of one section; each returns the fallback in place of a bad value.</summary>
    private sealed class Fields(List<SpecError> errors, string path, string relative, Func<string, bool>? isSet)
    {
        public Fields Section(string key) => new(errors, Join(path, key), Join(relative, key), isSet);

        public void Error(string key, string message) => errors.Add(new SpecError(Join(path, key), message));

        public bool Given<T>(string key, T value, T fallback) =>
            isSet?.Invoke(Join(relative, key)) ?? !EqualityComparer<T>.Default.Equals(value, fallback);

        public string OneOf(string key, string value, string fallback, string[] allowed)
        {
            if (allowed.Contains(value)) return value;
            Error(key, $"unknown value '{value}'; allowed: {string.Join(", ", allowed)}");
            return fallback;
        }

        public int Int(string key, int value, int fallback, int? min = null, int? max = null)
        {
            if ((min is { } lo && value < lo) || (max is { } hi && value > hi))
            {
                Error(key, $"must be {BoundsText.Ints(min, max)}, got {value}");
                return fallback;
            }
            return value;
        }

        public double Double(string key, double value, double fallback, double? min = null, double? max = null, bool exclusiveMin = false) =>
            OptionalDouble(key, value, min, max, exclusiveMin) ?? fallback;

        public double? OptionalDouble(string key, double? value, double? min = null, double? max = null, bool exclusiveMin = false)
        {
            if (value is not { } v) return null;
            if (!double.IsFinite(v))
            {
                Error(key, $"must be a finite number, got {BoundsText.Number(v)}");
                return null;
            }
            if (BoundsText.OutOfRange(v, min, max, exclusiveMin))
            {
                Error(key, $"must be {BoundsText.Doubles(min, max, exclusiveMin)}, got {BoundsText.Number(v)}");
                return null;
            }
            return v;
        }

        private static string Join(string prefix, string key) => prefix.Length == 0 ? key : $"{prefix}.{key}";
    }
}
