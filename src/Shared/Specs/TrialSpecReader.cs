using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Shared.Specs;

/// <summary>Reads and validates the `trial:` block of a YAML file into a <see cref="TrialSpec"/>.</summary>
public static partial class TrialSpecReader
{
    /// <summary>Largest YAML document accepted, to bound parser work on hostile input.</summary>
    public const int MaxDocumentChars = 1 << 20;

    /// <summary>Parses a trial file (a mapping with one key, `trial`).</summary>
    public static TrialSpec FromYaml(string yaml, string source = "trial")
    {
        var errors = new List<SpecError>();
        var root = ParseRoot(yaml, source, errors);
        var top = new YamlSection(root, "", errors);
        if (root is not null && !top.Has("trial"))
            errors.Add(new SpecError("trial", "missing; a trial file holds one `trial:` mapping"));
        var spec = Read(top.Section("trial"));
        top.Finish();
        ThrowIfAny(errors);
        return spec;
    }

    /// <summary>Parses a YAML document whose root must be a mapping; syntax errors become spec errors.</summary>
    public static YamlMappingNode? ParseRoot(string yaml, string source, List<SpecError> errors)
    {
        if (yaml.Length > MaxDocumentChars)
        {
            errors.Add(new SpecError(source, $"document is {yaml.Length} characters; the limit is {MaxDocumentChars}"));
            return null;
        }
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            errors.Add(new SpecError(source, $"invalid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}"));
            return null;
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode map)
        {
            errors.Add(new SpecError(source, "must be a YAML mapping"));
            return null;
        }
        return map;
    }

    public static void ThrowIfAny(List<SpecError> errors)
    {
        if (errors.Count > 0) throw new SpecException(errors);
    }

    /// <summary>Reads one trial mapping; problems are added to the section's error list.</summary>
    public static TrialSpec Read(YamlSection t)
    {
        var d = new TrialSpec();
        var spec = new TrialSpec
        {
            Kind = t.String("kind", d.Kind, TrialKinds.All),
            Seed = t.Int("seed", d.Seed, min: 0),
            Device = ReadDevice(t, d.Device),
            Data = ReadData(t.Section("data")),
            Model = ReadModel(t.Section("model")),
            Latent = ReadLatent(t.Section("latent")),
            Loss = ReadLoss(t.Section("loss")),
            Optimizer = ReadOptimizers(t.Section("optimizer")),
            Training = ReadTraining(t.Section("training")),
            AdaptiveLr = ReadAdaptive(t.Section("adaptive_lr")),
            Evaluation = ReadEvaluation(t.Section("evaluation")),
        };
        t.Finish();
        CheckCombinations(spec, t);
        return spec;
    }

    private static string ReadDevice(YamlSection t, string fallback)
    {
        var device = t.String("device", fallback);
        if (!DeviceRegex().IsMatch(device))
        {
            t.Error("device", $"unknown value '{device}'; allowed: cpu, cuda, cuda:N, auto");
            return fallback;
        }
        return device;
    }

    private static DataSpec ReadData(YamlSection s)
    {
        var d = new DataSpec();
        var spec = new DataSpec
        {
            Dataset = s.String("dataset", d.Dataset, Datasets.All),
            Path = s.OptionalString("path"),
            BatchSize = s.Int("batch_size", d.BatchSize, min: 1, max: 1 << 20),
            MixtureSize = s.Int("mixture_size", d.MixtureSize, min: 1, max: 10_000_000),
        };
        if (spec.Dataset == Datasets.Mnist && string.IsNullOrWhiteSpace(spec.Path))
            s.Error("path", "required for dataset mnist: a directory with train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]");
        if (spec.Dataset != Datasets.Mnist && spec.Path is not null)
            s.Error("path", $"only used by dataset mnist, not {spec.Dataset}");
        s.Finish();
        return spec;
    }

    private static ModelSpec ReadModel(YamlSection s)
    {
        var d = new ModelSpec();
        var spec = new ModelSpec
        {
            Architecture = s.String("architecture", d.Architecture, Architectures.All),
            Hidden = s.Int("hidden", d.Hidden, min: 1, max: 65_536),
            Layers = s.Int("layers", d.Layers, min: 1, max: 64),
            Features = s.Int("features", d.Features, min: 1, max: 4096),
            ImageSize = s.Int("image_size", d.ImageSize),
            Conditional = s.Bool("conditional", d.Conditional),
            DiscriminatorNorm = s.String("discriminator_norm", d.DiscriminatorNorm, Norms.All),
        };
        if (spec.ImageSize is not (28 or 64))
            s.Error("image_size", $"unknown value '{spec.ImageSize}'; allowed: 28, 64");
        s.Finish();
        return spec;
    }

    private static LatentSpec ReadLatent(YamlSection s)
    {
        var d = new LatentSpec();
        var spec = new LatentSpec
        {
            Dim = s.Int("dim", d.Dim, min: 1, max: 65_536),
            Prior = s.String("prior", d.Prior, Priors.All),
            Truncation = s.Double("truncation", d.Truncation, min: 0, exclusiveMin: true),
            MixtureComponents = s.Int("mixture_components", d.MixtureComponents, min: 1, max: 100_000),
            MixtureStd = s.Double("mixture_std", d.MixtureStd, min: 0, exclusiveMin: true),
        };
        s.Finish();
        return spec;
    }

    private static LossSpec ReadLoss(YamlSection s)
    {
        var d = new LossSpec();
        var spec = new LossSpec
        {
            Type = s.String("type", d.Type, Losses.All),
            RealLabel = s.Double("real_label", d.RealLabel, min: 0, max: 1, exclusiveMin: true),
            GpLambda = s.Double("gp_lambda", d.GpLambda, min: 0),
            ClipValue = s.Double("clip_value", d.ClipValue, min: 0, exclusiveMin: true),
        };
        if (s.Has("real_label") && spec.Type is Losses.Wgan or Losses.WganGp or Losses.Hinge)
            s.Error("real_label", $"label smoothing applies to bce_minimax, bce_nonsaturating and least_squares, not {spec.Type}");
        if (s.Has("gp_lambda") && spec.Type != Losses.WganGp)
            s.Error("gp_lambda", $"only used by wgan_gp, not {spec.Type}");
        if (s.Has("clip_value") && spec.Type != Losses.Wgan)
            s.Error("clip_value", $"only used by wgan (weight clipping), not {spec.Type}");
        s.Finish();
        return spec;
    }

    private static OptimizersSpec ReadOptimizers(YamlSection s)
    {
        var spec = new OptimizersSpec
        {
            Generator = ReadOptimizer(s.Section("generator")),
            Discriminator = ReadOptimizer(s.Section("discriminator")),
        };
        s.Finish();
        return spec;
    }

    private static OptimizerSpec ReadOptimizer(YamlSection s)
    {
        var d = new OptimizerSpec();
        var spec = new OptimizerSpec
        {
            Type = s.String("type", d.Type, Optimizers.All),
            Lr = s.Double("lr", d.Lr, min: 0, max: 10, exclusiveMin: true),
            Beta1 = s.Double("beta1", d.Beta1, min: 0, max: 1),
            Beta2 = s.Double("beta2", d.Beta2, min: 0, max: 1),
            Alpha = s.Double("alpha", d.Alpha, min: 0, max: 1),
            WeightDecay = s.Double("weight_decay", d.WeightDecay, min: 0),
        };
        if (spec.Beta2 >= 1 && s.Has("beta2")) s.Error("beta2", "must be < 1");
        if (spec.Type == Optimizers.RmsProp && (s.Has("beta1") || s.Has("beta2")))
            s.Error(s.Has("beta1") ? "beta1" : "beta2", "betas apply to adam; rmsprop takes alpha");
        if (spec.Type == Optimizers.Adam && s.Has("alpha"))
            s.Error("alpha", "alpha applies to rmsprop; adam takes beta1 and beta2");
        s.Finish();
        return spec;
    }

    private static TrainingSpec ReadTraining(YamlSection s)
    {
        var d = new TrainingSpec();
        var spec = new TrainingSpec
        {
            Steps = s.Int("steps", d.Steps, min: 1, max: 100_000_000),
            NCritic = s.Int("n_critic", d.NCritic, min: 1, max: 100),
            GradClip = s.OptionalDouble("grad_clip", min: 0, exclusiveMin: true),
            LogEvery = s.Int("log_every", d.LogEvery, min: 1),
            EvalEvery = s.Int("eval_every", d.EvalEvery, min: 1),
            CheckpointEvery = s.Int("checkpoint_every", d.CheckpointEvery, min: 1),
            KeepCheckpoints = s.Int("keep_checkpoints", d.KeepCheckpoints, min: 1, max: 1000),
            Threads = s.Int("threads", d.Threads, min: 0, max: 1024),
        };
        s.Finish();
        return spec;
    }

    private static AdaptiveLrSpec ReadAdaptive(YamlSection s)
    {
        var d = new AdaptiveLrSpec();
        var spec = new AdaptiveLrSpec
        {
            Enabled = s.Bool("enabled", d.Enabled),
            TargetLow = s.Double("target_low", d.TargetLow, min: 0, max: 1),
            TargetHigh = s.Double("target_high", d.TargetHigh, min: 0, max: 1),
            Factor = s.Double("factor", d.Factor, min: 1, exclusiveMin: true, max: 10),
            Window = s.Int("window", d.Window, min: 1, max: 1_000_000),
            MinLr = s.Double("min_lr", d.MinLr, min: 0, exclusiveMin: true),
            MaxLr = s.Double("max_lr", d.MaxLr, min: 0, exclusiveMin: true),
        };
        if (spec.TargetLow >= spec.TargetHigh)
            s.Error("target_low", $"must be below target_high ({spec.TargetHigh}), got {spec.TargetLow}");
        if (spec.MinLr > spec.MaxLr)
            s.Error("min_lr", $"must not exceed max_lr ({spec.MaxLr}), got {spec.MinLr}");
        s.Finish();
        return spec;
    }

    private static EvaluationSpec ReadEvaluation(YamlSection s)
    {
        var d = new EvaluationSpec();
        var spec = new EvaluationSpec
        {
            Samples = s.Int("samples", d.Samples, min: 10, max: 1_000_000),
            GridSamples = s.Int("grid_samples", d.GridSamples, min: 1, max: 4096),
            ClassifierCache = s.OptionalString("classifier_cache"),
        };
        var side = (int)Math.Round(Math.Sqrt(spec.GridSamples));
        if (side * side != spec.GridSamples)
            s.Error("grid_samples", $"must be a square number (16, 64, 100, ...), got {spec.GridSamples}");
        s.Finish();
        return spec;
    }

    private static void CheckCombinations(TrialSpec spec, YamlSection t)
    {
        var isImage = !Datasets.IsMixture(spec.Data.Dataset);
        if (spec.Model.Architecture == Architectures.Dcgan && !isImage)
            t.Error("model.architecture", $"dcgan needs an image dataset (mnist, mnist_subset); {spec.Data.Dataset} is 2-D points, use mlp");
        if (spec.Model.Architecture == Architectures.Mlp && spec.Model.ImageSize != 28)
            t.Error("model.image_size", "only dcgan renders 64x64; mlp works on the data's own size (28)");
        if (spec.Loss.Type == Losses.WganGp && spec.Model.DiscriminatorNorm == Norms.Batch)
            t.Error("model.discriminator_norm", "batch cannot be used with loss wgan_gp (the penalty is per sample and batch norm mixes samples); allowed: layer, none");
    }

    [GeneratedRegex("^(cpu|cuda|auto|cuda:[0-9]{1,3})$")]
    private static partial Regex DeviceRegex();
}
