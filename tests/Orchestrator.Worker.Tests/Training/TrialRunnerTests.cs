using System.Text.Json;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Training;
using TorchSharp;

namespace Orchestrator.Worker.Tests.Training;

public sealed class TrialRunnerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orchestrator-runner-").FullName;

    static TrialRunnerTests() => torch.set_num_threads(1);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private RunDirectory NewRun(string name) => new(Path.Combine(_root, name));

    private sealed class StopAt(int step, CancellationTokenSource cts) : ITrialObserver
    {
        public List<string> Messages { get; } = [];
        public void OnStart(int startStep, int totalSteps, string device) { }
        public void OnStep(StepStats stats, double samplesPerSecond) { if (stats.Step >= step) cts.Cancel(); }
        public void OnEvaluation(int s, IReadOnlyDictionary<string, double> metrics, string samplePath) { }
        public void OnCheckpoint(int s, string path) { }
        public void OnMessage(string message) => Messages.Add(message);
    }

    [Fact]
    public void Completed_run_writes_metrics_samples_checkpoints_and_a_snake_case_summary()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 20) with { Training = TrainerFixtures.SmallMixture().Training with { Steps = 20, KeepCheckpoints = 1 } };
        var run = NewRun("complete");
        var summary = new TrialRunner(spec, run).Run();

        Assert.Equal(TrialStatus.Completed, summary.Status);
        Assert.Equal(20, summary.Step);
        var lines = File.ReadAllLines(run.MetricsFile).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([5, 10, 15, 20], lines.Where(l => l.GetProperty("type").GetString() == "step").Select(l => l.GetProperty("step").GetInt32()));
        Assert.Equal([10, 20], lines.Where(l => l.GetProperty("type").GetString() == "eval").Select(l => l.GetProperty("step").GetInt32()));
        Assert.True(lines[0].TryGetProperty("d_loss", out _) && lines[0].TryGetProperty("samples_per_sec", out _));

        using var json = JsonDocument.Parse(File.ReadAllText(run.SummaryFile));
        var root = json.RootElement;
        Assert.Equal("completed", root.GetProperty("status").GetString());
        var evaluation = root.GetProperty("evaluation");
        Assert.InRange(evaluation.GetProperty("modes_covered").GetDouble(), 0, 8);
        Assert.InRange(evaluation.GetProperty("high_quality_fraction").GetDouble(), 0, 1);
        Assert.Single(run.Checkpoints());
        Assert.Equal(20, run.Checkpoints()[0].Step);
        var png = File.ReadAllBytes(run.SamplePath(20));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    /// <summary>Records, on the reporting replica's own thread, the cores it may run on.</summary>
    private sealed class CoresSeen : ITrialObserver
    {
        public List<int[]> Seen { get; } = [];
        public void OnStart(int startStep, int totalSteps, string device) => Seen.Add([.. CpuAffinity.Allowed()]);
        public void OnStep(StepStats stats, double samplesPerSecond) => Seen.Add([.. CpuAffinity.Allowed()]);
        public void OnEvaluation(int s, IReadOnlyDictionary<string, double> metrics, string samplePath) { }
        public void OnCheckpoint(int s, string path) { }
        public void OnMessage(string message) { }
    }

    [Fact]
    public void Pinned_training_runs_on_its_cores_leaves_the_caller_free_and_changes_no_number()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 10);
        var allowed = CpuAffinity.Allowed();
        var unpinned = new TrialRunner(spec, NewRun("unpinned")).Run();

        var observer = new CoresSeen();
        var pinned = new TrialRunner(spec, NewRun("pinned"), observer) { Cores = [allowed[^1]] }.Run();
        Assert.Equal(TrialStatus.Completed, pinned.Status);
        Assert.NotEmpty(observer.Seen);
        Assert.All(observer.Seen, cores => Assert.Equal(new[] { allowed[^1] }, cores));
        Assert.Equal(allowed.ToArray(), CpuAffinity.Allowed().ToArray());
        Assert.Equal(unpinned.Evaluation, pinned.Evaluation);
        Assert.Equal(File.ReadAllBytes(NewRun("unpinned").CheckpointPath(10)), File.ReadAllBytes(NewRun("pinned").CheckpointPath(10)));

        // Replicas share the cores: replica 0 (the one that reports) takes the first share.
        var replicas = new CoresSeen();
        var shared = new TrialRunner(spec, NewRun("pinned-replicas"), replicas, ReplicaGroup.Create(2)) { Cores = [allowed[0], allowed[^1]] }.Run();
        Assert.Equal(TrialStatus.Completed, shared.Status);
        Assert.All(replicas.Seen, cores => Assert.Equal(new[] { allowed[0] }, cores));
    }

    [Fact]
    public void Fewer_cores_than_replicas_fail_the_run_before_training()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 10);
        var summary = new TrialRunner(spec, NewRun("too-few-cores"), group: ReplicaGroup.Create(2)) { Cores = [CpuAffinity.Allowed()[0]] }.Run();
        Assert.Equal(TrialStatus.Failed, summary.Status);
        Assert.Equal(0, summary.Step);
        Assert.Contains("1 core(s) cannot be shared between 2", summary.Reason);
    }

    [Fact]
    public void Interrupted_run_resumes_from_its_checkpoint_and_ends_as_if_never_stopped()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 20);
        var straight = new TrialRunner(spec, NewRun("straight")).Run();

        var run = NewRun("interrupted");
        using var cts = new CancellationTokenSource();
        var first = new TrialRunner(spec, run, new StopAt(10, cts)).Run(cts.Token);
        Assert.Equal(TrialStatus.Interrupted, first.Status);
        Assert.Equal(10, run.Checkpoints()[0].Step);

        var observer = new StopAt(int.MaxValue, new CancellationTokenSource());
        var second = new TrialRunner(spec, run, observer).Run();
        Assert.Equal(TrialStatus.Completed, second.Status);
        Assert.Equal(10, second.ResumedFrom);
        Assert.Contains(observer.Messages, m => m.StartsWith("resumed from", StringComparison.Ordinal));
        Assert.Equal(straight.Evaluation, second.Evaluation);
        Assert.Equal(File.ReadAllBytes(NewRun("straight").CheckpointPath(20)), File.ReadAllBytes(run.CheckpointPath(20)));
        // Lines of the redone steps were replaced, not duplicated.
        var steps = File.ReadAllLines(run.MetricsFile).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(l => l.GetProperty("type").GetString() == "step").Select(l => l.GetProperty("step").GetInt32());
        Assert.Equal([5, 10, 15, 20], steps);
    }

    [Fact]
    public void Replicas_stop_together_write_once_and_resume_as_if_never_stopped()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 20);
        var straight = new TrialRunner(spec, NewRun("replicas-straight"), group: ReplicaGroup.Create(2)).Run();
        Assert.Equal(TrialStatus.Completed, straight.Status);

        var run = NewRun("replicas-interrupted");
        using var cts = new CancellationTokenSource();
        var first = new TrialRunner(spec, run, new StopAt(10, cts), ReplicaGroup.Create(2)).Run(cts.Token);
        // Asked to stop after step 10; the replicas agree on it through step 11's means and stop after that step.
        Assert.Equal((TrialStatus.Interrupted, 11), (first.Status, first.Step));
        Assert.Equal(11, run.Checkpoints()[0].Step);

        var observer = new StopAt(int.MaxValue, new CancellationTokenSource());
        var second = new TrialRunner(spec, run, observer, ReplicaGroup.Create(2)).Run();
        Assert.Equal(TrialStatus.Completed, second.Status);
        Assert.Equal(11, second.ResumedFrom);
        Assert.Single(observer.Messages, m => m.StartsWith("resumed from", StringComparison.Ordinal));
        Assert.Equal(straight.Evaluation, second.Evaluation);
        Assert.Equal(File.ReadAllBytes(NewRun("replicas-straight").CheckpointPath(20)), File.ReadAllBytes(run.CheckpointPath(20)));
        // Only rank 0 wrote: one line per logged step and evaluation, not one per replica.
        var lines = File.ReadAllLines(run.MetricsFile).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([5, 10, 15, 20], lines.Where(l => l.GetProperty("type").GetString() == "step").Select(l => l.GetProperty("step").GetInt32()));
        Assert.Equal([10, 20], lines.Where(l => l.GetProperty("type").GetString() == "eval").Select(l => l.GetProperty("step").GetInt32()));
    }

    [Fact]
    public void A_replica_device_request_that_cannot_be_met_fails_the_run_before_training()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 20) with { Device = "cuda:0" };
        var summary = new TrialRunner(spec, NewRun("bad-device"), group: ReplicaGroup.Create(2)).Run();

        Assert.Equal(TrialStatus.Failed, summary.Status);
        Assert.Contains("device 'cuda:0' names one GPU but 2 replicas were asked for", summary.Reason);
    }

    [Fact]
    public void Truncated_newest_checkpoint_is_skipped_and_the_previous_one_is_used()
    {
        var spec = TrainerFixtures.SmallMixture(steps: 20);
        var run = NewRun("truncated");
        new TrialRunner(spec, run).Run();
        var newest = run.CheckpointPath(20);
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, bytes[..(bytes.Length / 2)]);

        var observer = new StopAt(int.MaxValue, new CancellationTokenSource());
        var summary = new TrialRunner(spec, run, observer).Run();
        Assert.Equal(TrialStatus.Completed, summary.Status);
        Assert.Equal(10, summary.ResumedFrom);
        Assert.Contains(observer.Messages, m => m.Contains("skipping unreadable checkpoint") && m.Contains("step-00000020.ckpt"));
    }

    [Fact]
    public void Non_finite_loss_ends_the_run_as_diverged_with_step_and_reason()
    {
        var spec = TrainerFixtures.SmallMixture(loss: LossTypes.NonSaturating, steps: 20) with { Loss = new LossSpec { Type = LossTypes.NonSaturating } };
        var run = NewRun("diverged");
        run.Create();
        // A checkpoint whose critic holds NaN weights: the first resumed step produces a NaN loss.
        using (var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed))
        using (var trainer = new GanTrainer(spec, data, torch.CPU))
        {
            for (int i = 0; i < 4; i++) trainer.TrainStep();
            using (torch.no_grad()) trainer.D.parameters().First().fill_(double.NaN);
            RunDirectory.WriteAtomically(run.CheckpointPath(4), trainer.SaveCheckpoint);
        }

        var summary = new TrialRunner(spec, run).Run();
        Assert.Equal(TrialStatus.Diverged, summary.Status);
        Assert.Equal(5, summary.Step);
        Assert.Equal("d_loss is NaN at step 5", summary.Reason);
        using var json = JsonDocument.Parse(File.ReadAllText(run.SummaryFile));
        Assert.Equal("diverged", json.RootElement.GetProperty("status").GetString());
        Assert.Contains(File.ReadAllLines(run.MetricsFile), l => l.Contains("\"type\":\"diverged\"") && l.Contains("\"d_loss\":\"NaN\""));
    }

    [Fact]
    public void Missing_mnist_files_end_the_run_as_failed_naming_the_file()
    {
        var spec = TrainerFixtures.TinyDcgan() with { Data = new DataSpec { Dataset = Datasets.Mnist, Path = Path.Combine(_root, "nowhere"), BatchSize = 16 } };
        var run = NewRun("failed");
        var summary = new TrialRunner(spec, run).Run();
        Assert.Equal(TrialStatus.Failed, summary.Status);
        Assert.Contains("train-images-idx3-ubyte", summary.Reason);
        Assert.True(File.Exists(run.SummaryFile));
    }
}
