using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>Evaluates a trainer's G on fixed noise and renders its sample image; figures are snake_case names.</summary>
public abstract class TrialEvaluator : IDisposable
{
    public abstract IReadOnlyDictionary<string, double> Evaluate(GanTrainer trainer);

    public abstract void SaveSamples(GanTrainer trainer, string path);

    /// <summary>The figure a higher value of which is better, for "best so far" reporting.</summary>
    public abstract string PrimaryMetric { get; }

    public virtual void Dispose()
    {
    }

    /// <summary>Mixture protocol for 2-D data, classifier-based metrics for images.</summary>
    public static TrialEvaluator Create(TrialSpec spec, TrainingData train, TrainingData heldOut) =>
        train.Mixture is { } mixture
            ? new MixtureTrialEvaluator(spec.Evaluation, mixture)
            : new ImageTrialEvaluator(spec, train, heldOut);
}

/// <summary>Mode coverage and high-quality fraction (the standard 2,500-sample protocol).</summary>
public sealed class MixtureTrialEvaluator(EvaluationSpec spec, MixtureInfo mixture) : TrialEvaluator
{
    public override string PrimaryMetric => "modes_covered";

    public override IReadOnlyDictionary<string, double> Evaluate(GanTrainer trainer)
    {
        using var samples = trainer.SampleFixed(spec.Samples);
        var report = MixtureMetrics.Evaluate(samples, mixture);
        return new Dictionary<string, double>
        {
            ["modes_covered"] = report.ModesCovered,
            ["mode_count"] = report.ModeCount,
            ["high_quality_fraction"] = report.HighQualityFraction,
        };
    }

    public override void SaveSamples(GanTrainer trainer, string path)
    {
        using var samples = trainer.SampleFixed(spec.Samples);
        SampleImages.SaveScatter(samples, mixture, path);
    }
}

/// <summary>
/// Class coverage and class-histogram KL from a digit classifier trained once on the training split (cached),
/// plus Fréchet distance, KID and k-NN precision / recall on its penultimate features against the training data.
/// </summary>
public sealed class ImageTrialEvaluator : TrialEvaluator
{
    private readonly EvaluationSpec _spec;
    private readonly TrainedClassifier _classifier;
    private readonly ImageEvaluator _evaluator;

    public ImageTrialEvaluator(TrialSpec spec, TrainingData train, TrainingData heldOut)
    {
        _spec = spec.Evaluation;
        // The classifier trains on 28x28 digits: data resized for a 64x64 DCGAN is scaled back for it.
        using var scope = torch.NewDisposeScope();
        var trainImages = To28(train.Inputs);
        var heldImages = To28(heldOut.Inputs);
        var cache = spec.Evaluation.ClassifierCache ?? ClassifierCache.DefaultDirectory;
        _classifier = ClassifierCache.LoadOrTrain(trainImages, train.Labels, heldImages, heldOut.Labels, cache, spec.Seed);
        _evaluator = new ImageEvaluator(_classifier, trainImages, train.Labels);
    }

    public double ClassifierAccuracy => _classifier.HeldOutAccuracy;

    public override string PrimaryMetric => "class_coverage";

    public override IReadOnlyDictionary<string, double> Evaluate(GanTrainer trainer)
    {
        using var samples = trainer.SampleFixed(_spec.Samples);
        var r = _evaluator.Evaluate(samples);
        return new Dictionary<string, double>
        {
            ["class_coverage"] = r.ClassCoverage,
            ["class_kl"] = r.ClassKl,
            ["frechet_distance"] = r.FrechetDistance,
            ["kid"] = r.Kid,
            ["precision"] = r.Precision,
            ["recall"] = r.Recall,
        };
    }

    public override void SaveSamples(GanTrainer trainer, string path)
    {
        using var samples = trainer.SampleFixed(_spec.GridSamples, salt: 1);
        SampleImages.SaveGrid(samples, path);
    }

    private static Tensor To28(Tensor images) =>
        images.shape[^1] == 28 ? images.alias() : nn.functional.adaptive_avg_pool2d(images, [28, 28]);

    public override void Dispose()
    {
        _evaluator.Dispose();
        _classifier.Dispose();
    }
}
