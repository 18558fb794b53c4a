using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Runs one trial in a run directory: resumes from its newest readable checkpoint, trains, logs, evaluates,
/// checkpoints, and writes summary.json. A NaN or infinite loss ends the run as diverged; an exception ends it
/// as failed; neither escapes, so a host process stays healthy.
/// With a <see cref="ReplicaGroup"/> it runs this process's replicas of a data-parallel group, one thread each:
/// every rank resumes from the same checkpoint, trains its shard and evaluates the same (synchronised) model; only
/// global rank 0 writes the run directory, and local replica 0 reports to the observer.
/// </summary>
public sealed class TrialRunner(TrialSpec spec, RunDirectory run, ITrialObserver? observer = null, ReplicaGroup? group = null)
{
    /// <summary>Spans and trainer metrics, fed by the reporting replica; null: none.</summary>
    public TrainingTelemetry? Telemetry { get; init; }

    /// <summary>
    /// CPU cores to pin the training threads to (<see cref="CpuAffinity"/>), shared evenly between this process's
    /// replicas; null: not pinned.
    /// </summary>
    public IReadOnlyList<int>? Cores { get; init; }

    public TrialSummary Run(CancellationToken cancellationToken = default)
    {
        if (group is null)
        {
            if (Cores is null) return RunReplica(null, null, null, cancellationToken);
            // A pinned trainer gets a thread of its own: the caller's (a thread-pool thread, perhaps) stays unpinned.
            return Task.Factory.StartNew(() => RunReplica(null, null, Cores, cancellationToken),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).GetAwaiter().GetResult();
        }
        Device[] devices;
        IReadOnlyList<int>[]? shares;
        try
        {
            if (spec.Training.Threads > 0) torch.set_num_threads(spec.Training.Threads);
            devices = DeviceSelector.ResolveReplicas(spec.Device, group.Replicas.Count);
            shares = Cores is null ? null : CpuAffinity.Share(Cores, devices.Length);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Every replica of every process fails alike, so none is left waiting in a collective.
            return Finish(new TrialSummary { Status = TrialStatus.Failed, Step = 0, Steps = spec.Training.Steps, Reason = e.Message },
                writes: group.ProcessRank == 0);
        }

        // One dedicated thread per replica: TorchSharp's dispose scopes are per thread, and the replicas meet in
        // blocking collectives.
        var replicas = new Task<TrialSummary>[devices.Length];
        for (int i = 0; i < devices.Length; i++)
        {
            int local = i;
            replicas[i] = Task.Factory.StartNew(() =>
            {
                var summary = RunReplica(group.Replicas[local], devices[local], shares?[local], cancellationToken);
                if (summary.Status == TrialStatus.Failed) group.Abort(local, summary.Reason ?? "failed");
                return summary;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        Task.WaitAll(replicas);
        return replicas[0].Result;
    }

    private TrialSummary RunReplica(ICommunicator? communicator, Device? replicaDevice, IReadOnlyList<int>? cores, CancellationToken cancellationToken)
    {
        bool writes = communicator is null || communicator.Rank == 0;
        bool reports = communicator is null || communicator.Rank % group!.Replicas.Count == 0;
        var wall = Stopwatch.StartNew();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        int step = 0, resumedFrom = 0;
        string? device = null;
        GanTrainer? current = null;
        try
        {
            // Before libtorch starts its intra-op threads, which inherit the cores.
            if (cores is not null) CpuAffinity.Pin(cores);
            if (writes) run.Create();
            if (communicator is null && spec.Training.Threads > 0) torch.set_num_threads(spec.Training.Threads);
            var dev = replicaDevice ?? DeviceSelector.Resolve(spec.Device);
            device = dev.ToString();
            using var train = LoadForModel(DatasetLoader.LoadTrain(spec.Data, spec.Seed));
            using var heldOut = LoadForModel(DatasetLoader.LoadHeldOut(spec.Data, spec.Seed));
            using var trainer = new GanTrainer(spec, train, dev, communicator);
            current = trainer;
            resumedFrom = Resume(trainer, reports ? observer : null);
            if (communicator is not null) CheckResume(communicator, trainer);
            step = trainer.Step;
            using var evaluator = TrialEvaluator.Create(spec, train, heldOut);
            using var metrics = writes ? new MetricsLog(run.MetricsFile, resumedFrom) : null;
            var replicaObserver = reports ? observer : null;
            replicaObserver?.OnStart(trainer.Step, spec.Training.Steps, device);
            if (cores is not null) replicaObserver?.OnMessage($"training thread pinned to core(s) {CpuAffinity.Format(cores)}");
            var result = Train(trainer, evaluator, metrics, replicaObserver, communicator, writes, cancellationToken);
            step = trainer.Step;
            return Finish(result with
            {
                Device = device,
                ResumedFrom = resumedFrom > 0 ? resumedFrom : null,
                WallSeconds = wall.Elapsed.TotalSeconds,
                CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
            }, writes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The trainer is disposed by now, but its step count is still the last completed step.
            if (current is not null) step = current.Step;
            Telemetry?.Finish(TrialStatus.Failed, e.Message, e);
            return Finish(new TrialSummary
            {
                Status = TrialStatus.Failed,
                Step = step,
                Steps = spec.Training.Steps,
                Reason = e is CollectiveException ? $"after training step {step}: {e.Message}" : e.Message,
                Retryable = e is CollectiveException ? true : null,
                Device = device,
                WallSeconds = wall.Elapsed.TotalSeconds,
                CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
            }, writes);
        }
    }

    /// <summary>
    /// Fails every rank, before the first step, when the ranks did not resume from the same step (a rank on another
    /// host without the run directory's checkpoints); a different checkpoint at the same step shows up in the first
    /// replica checksum.
    /// </summary>
    private static void CheckResume(ICommunicator communicator, GanTrainer trainer)
    {
        var root = new float[] { trainer.Step };
        communicator.BroadcastAsync(root.AsMemory(), root: 0).GetAwaiter().GetResult();
        var differing = new[] { root[0] == trainer.Step ? 0f : 1f };
        communicator.AllReduce(differing.AsMemory(), ReduceOp.Sum);
        if (differing[0] > 0)
            throw new InvalidOperationException(
                $"{differing[0]:F0} rank(s) resumed from a different step than rank 0 (step {root[0]:F0}); rank {communicator.Rank} is at step {trainer.Step}. " +
                "Every rank needs the run directory's checkpoints to resume.");
        trainer.VerifyReplicas();
    }

    private TrialSummary Train(GanTrainer trainer, TrialEvaluator evaluator, MetricsLog? metrics, ITrialObserver? observer,
        ICommunicator? communicator, bool writes, CancellationToken cancellationToken)
    {
        var t = spec.Training;
        int world = communicator?.WorldSize ?? 1;
        // The group's throughput: every rank steps in lockstep on its share of the global batch.
        long samplesPerStep = (long)spec.Data.GlobalBatch(world) * t.NCritic;
        bool stopAgreed = false;
        var telemetry = observer is not null ? Telemetry : null;
        var window = Stopwatch.StartNew();
        int windowStart = trainer.Step;
        double throughput = 0, lifetimeSeconds = 0;
        int lifetimeSteps = 0;
        IReadOnlyDictionary<string, double> evaluation = new Dictionary<string, double>();
        string? lastCheckpoint = null, lastSamples = null;

        while (trainer.Step < t.Steps)
        {
            // Alone, a cancel stops before the next step; in a group, the ranks agree through the step's means first,
            // so all of them stop after the same step and rank 0's checkpoint is every rank's state.
            if (communicator is null ? cancellationToken.IsCancellationRequested : stopAgreed)
            {
                trainer.SynchronizeBuffers();
                lastCheckpoint = writes ? SaveCheckpoint(trainer, observer) : null;
                return new TrialSummary
                {
                    Status = TrialStatus.Interrupted, Step = trainer.Step, Steps = t.Steps,
                    Reason = "stopped on request; resume with --resume", Checkpoint = lastCheckpoint,
                    SamplesPerSecond = Rate(lifetimeSteps, lifetimeSeconds, samplesPerStep),
                };
            }

            trainer.StopRequested = cancellationToken.IsCancellationRequested;
            telemetry?.BeforeStep(trainer.DataPosition.Epoch, trainer.Step + 1);
            long stepStarted = Stopwatch.GetTimestamp();
            // Another step follows unless this one is the last or is evaluated or checkpointed: a group may then start
            // the next step's first D update on its real batch while this step's G gradients travel.
            int next = trainer.Step + 1;
            var stats = trainer.TrainStep(nextStepFollows: next < t.Steps && next % t.EvalEvery != 0 && next % t.CheckpointEvery != 0);
            telemetry?.OnStep(stats.Step, stepStarted, trainer.GradientAllReduceTime, trainer.GradientAllReduceBytes, world);
            stopAgreed = stats.StopRequested;
            if (stats.NonFiniteLoss is { } what)
            {
                var reason = $"{what} at step {stats.Step}";
                metrics?.Write("diverged", stats.Step, StepFields(stats, throughput));
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
                metrics?.Write("step", stats.Step, StepFields(stats, throughput));
                observer?.OnStep(stats, throughput);
            }
            bool evaluate = stats.Step % t.EvalEvery == 0 || last;
            bool checkpoint = stats.Step % t.CheckpointEvery == 0 || last;
            // BatchNorm running statistics are per replica while training; average them so every rank evaluates
            // and saves the same model.
            if (evaluate || checkpoint) trainer.SynchronizeBuffers();
            if (evaluate)
            {
                // Every rank evaluates (the same model, the same fixed noise), so none waits in a collective while
                // rank 0 alone would evaluate; only rank 0 writes.
                using var evaluating = telemetry?.Evaluation(stats.Step);
                evaluation = evaluator.Evaluate(trainer);
                lastSamples = run.SamplePath(stats.Step);
                if (writes) evaluator.SaveSamples(trainer, lastSamples);
                metrics?.Write("eval", stats.Step, evaluation);
                observer?.OnEvaluation(stats.Step, evaluation, lastSamples);
            }
            if (checkpoint && writes)
                lastCheckpoint = SaveCheckpoint(trainer, observer);
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
            if (writes) evaluator.SaveSamples(trainer, lastSamples);
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
    private int Resume(GanTrainer trainer, ITrialObserver? observer)
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

    private string SaveCheckpoint(GanTrainer trainer, ITrialObserver? observer)
    {
        var path = run.CheckpointPath(trainer.Step);
        using var saving = Telemetry?.Checkpoint(trainer.Step);
        RunDirectory.WriteAtomically(path, trainer.SaveCheckpoint);
        saving?.Written(path);
        foreach (var (_, old) in run.Checkpoints().Skip(spec.Training.KeepCheckpoints)) File.Delete(old);
        observer?.OnCheckpoint(trainer.Step, path);
        return path;
    }

    private TrainingData LoadForModel(TrainingData data)
    {
        if (spec.Model.Architecture != Architectures.Dcgan || spec.Model.ImageSize == data.SampleShape[^1]) return data;
        using (data) return DatasetLoader.Resize(data, spec.Model.ImageSize);
    }

    private TrialSummary Finish(TrialSummary summary, bool writes)
    {
        if (!writes) return summary;
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
