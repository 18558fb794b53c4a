using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Shared.Specs;

/// <summary>Reads and validates the `trial:` block of a YAML file into a <see cref="TrialSpec"/>.</summary>
public static class TrialSpecReader
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

    /// <summary>
    /// Reads one trial mapping; problems are added to the section's error list, and the returned
    /// record means something only when none were.
    /// </summary>
    public static TrialSpec Read(YamlSection t)
    {
        // Reading checks syntax, types and unknown keys; the values are checked by the validator,
        // the same rules the wire form (TrialSpecProto) goes through. Named options still pass their
        // allowed names here so that a type error ("got a list") can list them; the getter then
        // also rejects an unknown name, with the validator's wording, and hands the validator the
        // default instead, so nothing is reported twice.
        var d = new TrialSpec();
        var spec = new TrialSpec
        {
            Kind = t.String("kind", d.Kind, TrialKinds.All),
            Seed = t.Int("seed", d.Seed),
            Device = t.String("device", d.Device),
            Data = ReadData(t.Section("data")),
            Model = ReadModel(t.Section("model")),
            Latent = ReadLatent(t.Section("latent")),
            Loss = ReadLoss(t.Section("loss")),
            Optimizer = ReadOptimizers(t.Section("optimizer")),
            Training = ReadTraining(t.Section("training")),
            AdaptiveLr = ReadAdaptive(t.Section("adaptive_lr")),
            Evaluation = ReadEvaluation(t.Section("evaluation")),
            Sleep = ReadSleep(t.Section("sleep")),
            Quadratic = ReadQuadratic(t.Section("quadratic")),
        };
        t.Finish();
        t.AddErrors(TrialSpecValidator.Validate(spec, t.Path, t.Contains));
        return spec;
    }

    private static DataSpec ReadData(YamlSection s)
    {
        var d = new DataSpec();
        var spec = new DataSpec
        {
            Dataset = s.String("dataset", d.Dataset, Datasets.All),
            Path = s.OptionalString("path"),
            BatchSize = s.Int("batch_size", d.BatchSize),
            MixtureSize = s.Int("mixture_size", d.MixtureSize),
            GlobalBatchSize = s.OptionalInt("global_batch_size"),
        };
        s.Finish();
        return spec;
    }

    private static ModelSpec ReadModel(YamlSection s)
    {
        var d = new ModelSpec();
        var spec = new ModelSpec
        {
            Architecture = s.String("architecture", d.Architecture, Architectures.All),
            Hidden = s.Int("hidden", d.Hidden),
            Layers = s.Int("layers", d.Layers),
            Features = s.Int("features", d.Features),
            ImageSize = s.Int("image_size", d.ImageSize),
            Conditional = s.Bool("conditional", d.Conditional),
            DiscriminatorNorm = s.String("discriminator_norm", d.DiscriminatorNorm, Norms.All),
        };
        s.Finish();
        return spec;
    }

    private static LatentSpec ReadLatent(YamlSection s)
    {
        var d = new LatentSpec();
        var spec = new LatentSpec
        {
            Dim = s.Int("dim", d.Dim),
            Prior = s.String("prior", d.Prior, Priors.All),
            Truncation = s.Double("truncation", d.Truncation),
            MixtureComponents = s.Int("mixture_components", d.MixtureComponents),
            MixtureStd = s.Double("mixture_std", d.MixtureStd),
        };
        s.Finish();
        return spec;
    }

    private static LossSpec ReadLoss(YamlSection s)
    {
        var d = new LossSpec();
        var spec = new LossSpec
        {
            Type = s.String("type", d.Type, LossTypes.All),
            RealLabel = s.Double("real_label", d.RealLabel),
            GpLambda = s.Double("gp_lambda", d.GpLambda),
            ClipValue = s.Double("clip_value", d.ClipValue),
        };
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
            Lr = s.Double("lr", d.Lr),
            Beta1 = s.Double("beta1", d.Beta1),
            Beta2 = s.Double("beta2", d.Beta2),
            Alpha = s.Double("alpha", d.Alpha),
            WeightDecay = s.Double("weight_decay", d.WeightDecay),
        };
        s.Finish();
        return spec;
    }

    private static TrainingSpec ReadTraining(YamlSection s)
    {
        var d = new TrainingSpec();
        var spec = new TrainingSpec
        {
            Steps = s.Int("steps", d.Steps),
            NCritic = s.Int("n_critic", d.NCritic),
            GradClip = s.OptionalDouble("grad_clip"),
            LogEvery = s.Int("log_every", d.LogEvery),
            EvalEvery = s.Int("eval_every", d.EvalEvery),
            CheckpointEvery = s.Int("checkpoint_every", d.CheckpointEvery),
            KeepCheckpoints = s.Int("keep_checkpoints", d.KeepCheckpoints),
            Threads = s.Int("threads", d.Threads),
            LrSchedule = s.String("lr_schedule", d.LrSchedule, LrSchedules.All),
            ChecksumEvery = s.Int("checksum_every", d.ChecksumEvery),
            BatchSplit = s.String("batch_split", d.BatchSplit, BatchSplits.All),
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
            TargetLow = s.Double("target_low", d.TargetLow),
            TargetHigh = s.Double("target_high", d.TargetHigh),
            Factor = s.Double("factor", d.Factor),
            Window = s.Int("window", d.Window),
            MinLr = s.Double("min_lr", d.MinLr),
            MaxLr = s.Double("max_lr", d.MaxLr),
        };
        s.Finish();
        return spec;
    }

    private static EvaluationSpec ReadEvaluation(YamlSection s)
    {
        var d = new EvaluationSpec();
        var spec = new EvaluationSpec
        {
            Samples = s.Int("samples", d.Samples),
            GridSamples = s.Int("grid_samples", d.GridSamples),
            ClassifierCache = s.OptionalString("classifier_cache"),
        };
        s.Finish();
        return spec;
    }

    private static SleepSpec ReadSleep(YamlSection s)
    {
        var d = new SleepSpec();
        var spec = new SleepSpec
        {
            Seconds = s.Double("seconds", d.Seconds),
            Reports = s.Int("reports", d.Reports),
        };
        s.Finish();
        return spec;
    }

    private static QuadraticSpec ReadQuadratic(YamlSection s)
    {
        var d = new QuadraticSpec();
        var spec = new QuadraticSpec
        {
            X = s.Double("x", d.X),
            Y = s.Double("y", d.Y),
            Noise = s.Double("noise", d.Noise),
        };
        s.Finish();
        return spec;
    }
}
