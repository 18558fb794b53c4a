using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Data;
using TorchSharp;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Runs one trial in a run directory: resumes from its newest readable checkpoint, trains, logs, evaluates,
/// checkpoints, and writes summary.json. A NaN or infinite loss ends the run as diverged; an exception ends it
/// as failed; neither escapes, so a host process stays healthy.
/// </summary>
public sealed class TrialRunner(TrialSpec spec, RunDirectory run, ITrialObserver? observer = null)
{
    public TrialSummary Run(CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        int step = 0, resumedFrom = 0;
        string? device = null;
        try
        {
            run.Create();
            if (spec.Training.Threads > 0) torch.set_num_threads(spec.Training.Threads);
            var dev = DeviceSelector.Resolve(spec.Device);
            device = dev.ToString();
            using var train = LoadForModel(DatasetLoader.LoadTrain(spec.Data, spec.Seed));
            using var heldOut = LoadForModel(DatasetLoader.LoadHeldOut(spec.Data, spec.Seed));
            using var trainer = new GanTrainer(spec, train, dev);
            resumedFrom = Resume(trainer);
            step = trainer.Step;
            using var evaluator = TrialEvaluator.Create(spec, train, heldOut);
            using var metrics = new MetricsLog(run.MetricsFile, resumedFrom);
            observer?.OnStart(trainer.Step, spec.Training.Steps, device);
            var result = Train(trainer, evaluator, metrics, cancellationToken);
            step = trainer.Step;
            return Finish(result with
            {
                Device = device,
                ResumedFrom = resumedFrom > 0 ? resumedFrom : null,
                WallSeconds = wall.Elapsed.TotalSeconds,
                CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Finish(new TrialSummary
            {
                Status = TrialStatus.Failed,
                Step = step,
                Steps = spec.Training.Steps,
                Reason = e.Message,
                Device = device,
                WallSeconds = wall.Elapsed.TotalSeconds,
            });
        }
    }

    private TrialSummary Train(GanTrainer trainer, TrialEvaluator evaluator, MetricsLog metrics, CancellationToken cancellationToken)
    {
        var t = spec.Training;
        long samplesPerStep = (long)spec.Data.BatchSize * t.NCritic;
        var window = Stopwatch.StartNew();
        int windowStart = trainer.Step;
        double throughput = 0, lifetimeSeconds = 0;
        int lifetimeSteps = 0;
        IReadOnlyDictionary<string, double> evaluation = new Dictionary<string, double>();
        string? lastCheckpoint = null, lastSamples = null;

        while (trainer.Step < t.Steps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                lastCheckpoint = SaveCheckpoint(trainer);
                return new TrialSummary
                {
                    Status = TrialStatus.Interrupted, Step = trainer.Step, Steps = t.Steps,
                    Reason = "stopped on request; resume with --resume", Checkpoint = lastCheckpoint,
                    SamplesPerSecond = Rate(lifetimeSteps, lifetimeSeconds, samplesPerStep),
                };
            }

            var stats = trainer.TrainStep();
            if (stats.NonFiniteLoss is { } what)
            {
                var reason = $"{what} at step {stats.Step}";
                metrics.Write("diverged", stats.Step, StepFields(stats, throughput));
                observer?.OnMessage($"diverged: {reason}");
                return new TrialSummary
                {
                    Status = TrialStatus.Diverged, Step = stats.Step, Steps = t.Steps, Reason = reason,
                    Evaluation = evaluation, Checkpoint = lastCheckpoint, Samples = lastSamples,
                    SamplesPerSecond = Rate(lifetimeSteps, lifetimeSeconds, samplesPerStep),
                };
            }

            bool last = trainer.Step == t.Steps;
            bool logStep = stats.Step % t.LogEvery == 0 || last;
            if (logStep)
            {
                double seconds = window.Elapsed.TotalSeconds;
                int steps = stats.Step - windowStart;
                throughput = Rate(steps, seconds, samplesPerStep);
                lifetimeSteps += steps;
                lifetimeSeconds += seconds;
                metrics.Write("step", stats.Step, StepFields(stats, throughput));
                observer?.OnStep(stats, throughput);
            }
            if (stats.Step % t.EvalEvery == 0 || last)
            {
                evaluation = evaluator.Evaluate(trainer);
                lastSamples = run.SamplePath(stats.Step);
                evaluator.SaveSamples(trainer, lastSamples);
                metrics.Write("eval", stats.Step, evaluation);
                observer?.OnEvaluation(stats.Step, evaluation, lastSamples);
            }
            if (stats.Step % t.CheckpointEvery == 0 || last)
                lastCheckpoint = SaveCheckpoint(trainer);
            if (logStep)
            {
                // Evaluation and checkpoint time stays out of the training throughput.
                window.Restart();
                windowStart = stats.Step;
            }
        }

        if (evaluation.Count == 0)
        {
            // Resumed a run that had already finished: report its final evaluation again.
            evaluation = evaluator.Evaluate(trainer);
            lastSamples = run.SamplePath(trainer.Step);
            evaluator.SaveSamples(trainer, lastSamples);
            lastCheckpoint = run.Checkpoints().FirstOrDefault().Path;
        }
        return new TrialSummary
        {
            Status = TrialStatus.Completed, Step = trainer.Step, Steps = t.Steps, Evaluation = evaluation,
            Checkpoint = lastCheckpoint, Samples = lastSamples,
            SamplesPerSecond = Rate(lifetimeSteps, lifetimeSeconds, samplesPerStep),
        };
    }

    private static double Rate(int steps, double seconds, long samplesPerStep) =>
        seconds > 0 ? steps * samplesPerStep / seconds : 0;

    private static IEnumerable<KeyValuePair<string, double>> StepFields(StepStats s, double samplesPerSecond)
    {
        yield return new("d_loss", s.DiscriminatorLoss);
        yield return new("g_loss", s.GeneratorLoss);
        if (s.GradientPenalty is { } gp) yield return new("gradient_penalty", gp);
        yield return new("fooled_rate", s.FooledRate);
        yield return new("g_lr", s.GeneratorLr);
        yield return new("d_lr", s.DiscriminatorLr);
        if (s.DiscriminatorGradNorm is { } dn) yield return new("d_grad_norm", dn);
        if (s.GeneratorGradNorm is { } gn) yield return new("g_grad_norm", gn);
        yield return new("samples_per_sec", samplesPerSecond);
    }

    /// <summary>Loads the newest checkpoint that reads back; an unreadable one is reported and skipped.</summary>
    private int Resume(GanTrainer trainer)
    {
        foreach (var (step, path) in run.Checkpoints())
        {
            try
            {
                using var file = File.OpenRead(path);
                trainer.LoadCheckpoint(file, path);
                observer?.OnMessage($"resumed from {path} (step {step})");
                return trainer.Step;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or EndOfStreamException)
            {
                observer?.OnMessage($"skipping unreadable checkpoint {path}: {e.Message}");
            }
        }
        return 0;
    }

    private string SaveCheckpoint(GanTrainer trainer)
    {
        var path = run.CheckpointPath(trainer.Step);
        RunDirectory.WriteAtomically(path, trainer.SaveCheckpoint);
        foreach (var (_, old) in run.Checkpoints().Skip(spec.Training.KeepCheckpoints)) File.Delete(old);
        observer?.OnCheckpoint(trainer.Step, path);
        return path;
    }

    private TrainingData LoadForModel(TrainingData data)
    {
        if (spec.Model.Architecture != Architectures.Dcgan || spec.Model.ImageSize == data.SampleShape[^1]) return data;
        using (data) return DatasetLoader.Resize(data, spec.Model.ImageSize);
    }

    private TrialSummary Finish(TrialSummary summary)
    {
        try
        {
            RunDirectory.WriteAtomically(run.SummaryFile, s => JsonSerializer.Serialize(s, summary, SummaryJson.Default.TrialSummary));
        }
        catch (IOException e)
        {
            observer?.OnMessage($"could not write {run.SummaryFile}: {e.Message}");
        }
        return summary;
    }
}
