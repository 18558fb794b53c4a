using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Orchestrator.Shared.Specs;

/// <summary>Converts a trial between its record and its wire form; the way in validates exactly like the YAML reader.</summary>
public static class TrialSpecProto
{
    /// <summary>
    /// The wire form, with only the fields that differ from their defaults set. An explicit default
    /// would count as "given" on the server and trip the checks for options the loss or optimizer
    /// ignores (real_label with wgan), and leaving it out lets the server apply its own defaults.
    /// </summary>
    public static Protos.TrialSpec ToProto(this TrialSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var d = new TrialSpec();
        var p = new Protos.TrialSpec
        {
            Data = ToProto(spec.Data),
            Model = ToProto(spec.Model),
            Latent = ToProto(spec.Latent),
            Loss = ToProto(spec.Loss),
            Optimizer = new Protos.OptimizersSpec
            {
                Generator = ToProto(spec.Optimizer.Generator),
                Discriminator = ToProto(spec.Optimizer.Discriminator),
            },
            Training = ToProto(spec.Training),
            AdaptiveLr = ToProto(spec.AdaptiveLr),
            Evaluation = ToProto(spec.Evaluation),
            Sleep = ToProto(spec.Sleep),
            Quadratic = ToProto(spec.Quadratic),
        };
        Put(spec.Kind, d.Kind, v => p.Kind = v);
        Put(spec.Seed, d.Seed, v => p.Seed = v);
        Put(spec.Device, d.Device, v => p.Device = v);
        return p;
    }

    /// <summary>
    /// Reads a trial from the wire: unset fields take their defaults and the result passes the same
    /// validation as a YAML file, with fields named below <paramref name="path"/>.
    /// </summary>
    /// <exception cref="SpecException">The trial is invalid; every problem names its field.</exception>
    public static TrialSpec FromProto(Protos.TrialSpec proto, string path = "trial")
    {
        ArgumentNullException.ThrowIfNull(proto);
        var d = new TrialSpec();
        var spec = new TrialSpec
        {
            Kind = proto.HasKind ? proto.Kind : d.Kind,
            Seed = proto.HasSeed ? proto.Seed : d.Seed,
            Device = proto.HasDevice ? proto.Device : d.Device,
            Data = ToRecord(proto.Data),
            Model = ToRecord(proto.Model),
            Latent = ToRecord(proto.Latent),
            Loss = ToRecord(proto.Loss),
            Optimizer = new OptimizersSpec
            {
                Generator = ToRecord(proto.Optimizer?.Generator),
                Discriminator = ToRecord(proto.Optimizer?.Discriminator),
            },
            Training = ToRecord(proto.Training),
            AdaptiveLr = ToRecord(proto.AdaptiveLr),
            Evaluation = ToRecord(proto.Evaluation),
            Sleep = ToRecord(proto.Sleep),
            Quadratic = ToRecord(proto.Quadratic),
        };
        var given = new HashSet<string>();
        CollectGiven(proto, "", given);
        var errors = TrialSpecValidator.Validate(spec, path, given.Contains);
        if (errors.Count > 0) throw new SpecException(errors);
        return spec;
    }

    /// <summary>
    /// Dotted paths of the fields set in a message. Read off the descriptor, so the paths are the
    /// proto field names, which are the YAML keys the validator asks about.
    /// </summary>
    private static void CollectGiven(IMessage message, string prefix, HashSet<string> into)
    {
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (!field.HasPresence || !field.Accessor.HasValue(message)) continue;
            var fieldPath = prefix + field.Name;
            into.Add(fieldPath);
            if (field.FieldType == FieldType.Message)
                CollectGiven((IMessage)field.Accessor.GetValue(message), fieldPath + ".", into);
        }
    }

    private static void Put<T>(T value, T fallback, Action<T> set)
    {
        if (!EqualityComparer<T>.Default.Equals(value, fallback)) set(value);
    }

    private static Protos.DataSpec ToProto(DataSpec s)
    {
        var d = new DataSpec();
        var p = new Protos.DataSpec();
        Put(s.Dataset, d.Dataset, v => p.Dataset = v);
        if (s.Path is not null) p.Path = s.Path;
        Put(s.BatchSize, d.BatchSize, v => p.BatchSize = v);
        if (s.GlobalBatchSize is { } global) p.GlobalBatchSize = global;
        Put(s.MixtureSize, d.MixtureSize, v => p.MixtureSize = v);
        return p;
    }

    private static DataSpec ToRecord(Protos.DataSpec? p)
    {
        var d = new DataSpec();
        if (p is null) return d;
        return new DataSpec
        {
            Dataset = p.HasDataset ? p.Dataset : d.Dataset,
            Path = p.HasPath ? p.Path : null,
            BatchSize = p.HasBatchSize ? p.BatchSize : d.BatchSize,
            GlobalBatchSize = p.HasGlobalBatchSize ? p.GlobalBatchSize : null,
            MixtureSize = p.HasMixtureSize ? p.MixtureSize : d.MixtureSize,
        };
    }

    private static Protos.ModelSpec ToProto(ModelSpec s)
    {
        var d = new ModelSpec();
        var p = new Protos.ModelSpec();
        Put(s.Architecture, d.Architecture, v => p.Architecture = v);
        Put(s.Hidden, d.Hidden, v => p.Hidden = v);
        Put(s.Layers, d.Layers, v => p.Layers = v);
        Put(s.Features, d.Features, v => p.Features = v);
        Put(s.ImageSize, d.ImageSize, v => p.ImageSize = v);
        Put(s.Conditional, d.Conditional, v => p.Conditional = v);
        Put(s.DiscriminatorNorm, d.DiscriminatorNorm, v => p.DiscriminatorNorm = v);
        return p;
    }

    private static ModelSpec ToRecord(Protos.ModelSpec? p)
    {
        var d = new ModelSpec();
        if (p is null) return d;
        return new ModelSpec
        {
            Architecture = p.HasArchitecture ? p.Architecture : d.Architecture,
            Hidden = p.HasHidden ? p.Hidden : d.Hidden,
            Layers = p.HasLayers ? p.Layers : d.Layers,
            Features = p.HasFeatures ? p.Features : d.Features,
            ImageSize = p.HasImageSize ? p.ImageSize : d.ImageSize,
            Conditional = p.HasConditional ? p.Conditional : d.Conditional,
            DiscriminatorNorm = p.HasDiscriminatorNorm ? p.DiscriminatorNorm : d.DiscriminatorNorm,
        };
    }

    private static Protos.LatentSpec ToProto(LatentSpec s)
    {
        var d = new LatentSpec();
        var p = new Protos.LatentSpec();
        Put(s.Dim, d.Dim, v => p.Dim = v);
        Put(s.Prior, d.Prior, v => p.Prior = v);
        Put(s.Truncation, d.Truncation, v => p.Truncation = v);
        Put(s.MixtureComponents, d.MixtureComponents, v => p.MixtureComponents = v);
        Put(s.MixtureStd, d.MixtureStd, v => p.MixtureStd = v);
        return p;
    }

    private static LatentSpec ToRecord(Protos.LatentSpec? p)
    {
        var d = new LatentSpec();
        if (p is null) return d;
        return new LatentSpec
        {
            Dim = p.HasDim ? p.Dim : d.Dim,
            Prior = p.HasPrior ? p.Prior : d.Prior,
            Truncation = p.HasTruncation ? p.Truncation : d.Truncation,
            MixtureComponents = p.HasMixtureComponents ? p.MixtureComponents : d.MixtureComponents,
            MixtureStd = p.HasMixtureStd ? p.MixtureStd : d.MixtureStd,
        };
    }

    private static Protos.LossSpec ToProto(LossSpec s)
    {
        var d = new LossSpec();
        var p = new Protos.LossSpec();
        Put(s.Type, d.Type, v => p.Type = v);
        Put(s.RealLabel, d.RealLabel, v => p.RealLabel = v);
        Put(s.GpLambda, d.GpLambda, v => p.GpLambda = v);
        Put(s.ClipValue, d.ClipValue, v => p.ClipValue = v);
        return p;
    }

    private static LossSpec ToRecord(Protos.LossSpec? p)
    {
        var d = new LossSpec();
        if (p is null) return d;
        return new LossSpec
        {
            Type = p.HasType ? p.Type : d.Type,
            RealLabel = p.HasRealLabel ? p.RealLabel : d.RealLabel,
            GpLambda = p.HasGpLambda ? p.GpLambda : d.GpLambda,
            ClipValue = p.HasClipValue ? p.ClipValue : d.ClipValue,
        };
    }

    private static Protos.OptimizerSpec ToProto(OptimizerSpec s)
    {
        var d = new OptimizerSpec();
        var p = new Protos.OptimizerSpec();
        Put(s.Type, d.Type, v => p.Type = v);
        Put(s.Lr, d.Lr, v => p.Lr = v);
        Put(s.Beta1, d.Beta1, v => p.Beta1 = v);
        Put(s.Beta2, d.Beta2, v => p.Beta2 = v);
        Put(s.Alpha, d.Alpha, v => p.Alpha = v);
        Put(s.WeightDecay, d.WeightDecay, v => p.WeightDecay = v);
        return p;
    }

    private static OptimizerSpec ToRecord(Protos.OptimizerSpec? p)
    {
        var d = new OptimizerSpec();
        if (p is null) return d;
        return new OptimizerSpec
        {
            Type = p.HasType ? p.Type : d.Type,
            Lr = p.HasLr ? p.Lr : d.Lr,
            Beta1 = p.HasBeta1 ? p.Beta1 : d.Beta1,
            Beta2 = p.HasBeta2 ? p.Beta2 : d.Beta2,
            Alpha = p.HasAlpha ? p.Alpha : d.Alpha,
            WeightDecay = p.HasWeightDecay ? p.WeightDecay : d.WeightDecay,
        };
    }

    private static Protos.TrainingSpec ToProto(TrainingSpec s)
    {
        var d = new TrainingSpec();
        var p = new Protos.TrainingSpec();
        Put(s.Steps, d.Steps, v => p.Steps = v);
        Put(s.NCritic, d.NCritic, v => p.NCritic = v);
        if (s.GradClip is { } clip) p.GradClip = clip;
        Put(s.LogEvery, d.LogEvery, v => p.LogEvery = v);
        Put(s.EvalEvery, d.EvalEvery, v => p.EvalEvery = v);
        Put(s.CheckpointEvery, d.CheckpointEvery, v => p.CheckpointEvery = v);
        Put(s.KeepCheckpoints, d.KeepCheckpoints, v => p.KeepCheckpoints = v);
        Put(s.Threads, d.Threads, v => p.Threads = v);
        Put(s.LrSchedule, d.LrSchedule, v => p.LrSchedule = v);
        Put(s.ChecksumEvery, d.ChecksumEvery, v => p.ChecksumEvery = v);
        Put(s.BatchSplit, d.BatchSplit, v => p.BatchSplit = v);
        return p;
    }

    private static TrainingSpec ToRecord(Protos.TrainingSpec? p)
    {
        var d = new TrainingSpec();
        if (p is null) return d;
        return new TrainingSpec
        {
            Steps = p.HasSteps ? p.Steps : d.Steps,
            NCritic = p.HasNCritic ? p.NCritic : d.NCritic,
            GradClip = p.HasGradClip ? p.GradClip : null,
            LogEvery = p.HasLogEvery ? p.LogEvery : d.LogEvery,
            EvalEvery = p.HasEvalEvery ? p.EvalEvery : d.EvalEvery,
            CheckpointEvery = p.HasCheckpointEvery ? p.CheckpointEvery : d.CheckpointEvery,
            KeepCheckpoints = p.HasKeepCheckpoints ? p.KeepCheckpoints : d.KeepCheckpoints,
            Threads = p.HasThreads ? p.Threads : d.Threads,
            LrSchedule = p.HasLrSchedule ? p.LrSchedule : d.LrSchedule,
            ChecksumEvery = p.HasChecksumEvery ? p.ChecksumEvery : d.ChecksumEvery,
            BatchSplit = p.HasBatchSplit ? p.BatchSplit : d.BatchSplit,
        };
    }

    private static Protos.AdaptiveLrSpec ToProto(AdaptiveLrSpec s)
    {
        var d = new AdaptiveLrSpec();
        var p = new Protos.AdaptiveLrSpec();
        Put(s.Enabled, d.Enabled, v => p.Enabled = v);
        Put(s.TargetLow, d.TargetLow, v => p.TargetLow = v);
        Put(s.TargetHigh, d.TargetHigh, v => p.TargetHigh = v);
        Put(s.Factor, d.Factor, v => p.Factor = v);
        Put(s.Window, d.Window, v => p.Window = v);
        Put(s.MinLr, d.MinLr, v => p.MinLr = v);
        Put(s.MaxLr, d.MaxLr, v => p.MaxLr = v);
        return p;
    }

    private static AdaptiveLrSpec ToRecord(Protos.AdaptiveLrSpec? p)
    {
        var d = new AdaptiveLrSpec();
        if (p is null) return d;
        return new AdaptiveLrSpec
        {
            Enabled = p.HasEnabled ? p.Enabled : d.Enabled,
            TargetLow = p.HasTargetLow ? p.TargetLow : d.TargetLow,
            TargetHigh = p.HasTargetHigh ? p.TargetHigh : d.TargetHigh,
            Factor = p.HasFactor ? p.Factor : d.Factor,
            Window = p.HasWindow ? p.Window : d.Window,
            MinLr = p.HasMinLr ? p.MinLr : d.MinLr,
            MaxLr = p.HasMaxLr ? p.MaxLr : d.MaxLr,
        };
    }

    private static Protos.EvaluationSpec ToProto(EvaluationSpec s)
    {
        var d = new EvaluationSpec();
        var p = new Protos.EvaluationSpec();
        Put(s.Samples, d.Samples, v => p.Samples = v);
        Put(s.GridSamples, d.GridSamples, v => p.GridSamples = v);
        if (s.ClassifierCache is not null) p.ClassifierCache = s.ClassifierCache;
        return p;
    }

    private static EvaluationSpec ToRecord(Protos.EvaluationSpec? p)
    {
        var d = new EvaluationSpec();
        if (p is null) return d;
        return new EvaluationSpec
        {
            Samples = p.HasSamples ? p.Samples : d.Samples,
            GridSamples = p.HasGridSamples ? p.GridSamples : d.GridSamples,
            ClassifierCache = p.HasClassifierCache ? p.ClassifierCache : null,
        };
    }

    private static Protos.SleepSpec ToProto(SleepSpec s)
    {
        var d = new SleepSpec();
        var p = new Protos.SleepSpec();
        Put(s.Seconds, d.Seconds, v => p.Seconds = v);
        Put(s.Reports, d.Reports, v => p.Reports = v);
        return p;
    }

    private static SleepSpec ToRecord(Protos.SleepSpec? p)
    {
        var d = new SleepSpec();
        if (p is null) return d;
        return new SleepSpec
        {
            Seconds = p.HasSeconds ? p.Seconds : d.Seconds,
            Reports = p.HasReports ? p.Reports : d.Reports,
        };
    }

    private static Protos.QuadraticSpec ToProto(QuadraticSpec s)
    {
        var d = new QuadraticSpec();
        var p = new Protos.QuadraticSpec();
        Put(s.X, d.X, v => p.X = v);
        Put(s.Y, d.Y, v => p.Y = v);
        Put(s.Noise, d.Noise, v => p.Noise = v);
        return p;
    }

    private static QuadraticSpec ToRecord(Protos.QuadraticSpec? p)
    {
        var d = new QuadraticSpec();
        if (p is null) return d;
        return new QuadraticSpec
        {
            X = p.HasX ? p.X : d.X,
            Y = p.HasY ? p.Y : d.Y,
            Noise = p.HasNoise ? p.Noise : d.Noise,
        };
    }
}
