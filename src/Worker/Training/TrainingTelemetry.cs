using System.Diagnostics;
using System.Diagnostics.Metrics;
using Orchestrator.Shared.Telemetry;

namespace Orchestrator.Worker.Training;

/// <summary>
/// A trial process's spans and trainer metrics: one <c>orchestrator.train</c> span (continuing the worker's attempt
/// span when a traceparent is given), one span per data epoch, evaluation and checkpoint spans, all-reduce spans
/// sampled one step in <see cref="AllReduceSpanEvery"/>; step time, evaluation and checkpoint time, checkpoint
/// size and all-reduce time and bytes as metrics. The runner calls it from the reporting replica only.
/// </summary>
/// <remarks>Per step this is two timestamps, one histogram record and a few subtractions: no allocation.</remarks>
public sealed class TrainingTelemetry : IDisposable
{
    /// <summary>All-reduce spans: one step in this many, so a long data-parallel run does not emit a span per step.</summary>
    public const int AllReduceSpanEvery = 100;

    public static readonly ActivitySource Source = new(TelemetryNames.Training, ServiceDefaultsExtensions.Version);
    public static readonly ActivitySource CollectivesSource = new(TelemetryNames.Collectives, ServiceDefaultsExtensions.Version);
    private static readonly Meter TrainingMeter = new(TelemetryNames.Training, ServiceDefaultsExtensions.Version);
    private static readonly Meter CollectivesMeter = new(TelemetryNames.Collectives, ServiceDefaultsExtensions.Version);
    private static readonly Histogram<double> StepDuration = TrainingMeter.CreateHistogram(MetricNames.TrainStepDuration,
        MetricNames.Units.Seconds, "Wall time of one training step", tags: null, advice: HistogramBuckets.Seconds);
    private static readonly Histogram<double> EvalDuration = TrainingMeter.CreateHistogram(MetricNames.EvalDuration,
        MetricNames.Units.Seconds, "Wall time of one evaluation", tags: null, advice: HistogramBuckets.Seconds);
    private static readonly Histogram<double> CheckpointDuration = TrainingMeter.CreateHistogram(MetricNames.CheckpointDuration,
        MetricNames.Units.Seconds, "Wall time of writing one checkpoint", tags: null, advice: HistogramBuckets.Seconds);
    private static readonly Histogram<long> CheckpointSize = TrainingMeter.CreateHistogram(MetricNames.CheckpointSize,
        MetricNames.Units.Bytes, "Size of each checkpoint written", tags: null, advice: HistogramBuckets.Bytes);
    private static readonly Histogram<double> AllReduceDuration = CollectivesMeter.CreateHistogram(MetricNames.AllReduceDuration,
        MetricNames.Units.Seconds, "Gradient all-reduce time per step", tags: null, advice: HistogramBuckets.Seconds);
    private static readonly Counter<long> AllReduceBytes = CollectivesMeter.CreateCounter<long>(MetricNames.AllReduceBytes,
        MetricNames.Units.Bytes, "Bytes of gradients all-reduced");

    private readonly Activity? _train;
    private Activity? _epoch;
    private int _epochNumber = -1;
    private TimeSpan _allReduceTime;
    private long _allReduceBytes;

    /// <param name="parent">The W3C traceparent to continue (the worker's attempt span), or null for a new trace.</param>
    public TrainingTelemetry(string? parent, string? sweepId = null, int? trialNumber = null)
    {
        ActivityContext.TryParse(parent, null, out var context);
        var previous = Activity.Current;
        _train = Source.StartActivity(SpanNames.Train, ActivityKind.Internal, context);
        Activity.Current = previous;
        if (_train is null) return;
        if (sweepId is not null) _train.SetTag(AttributeNames.SweepId, sweepId);
        if (trialNumber is { } trial) _train.SetTag(AttributeNames.TrialNumber, trial);
    }

    /// <summary>The trace context of the trial process's root span (for logs and tests).</summary>
    public ActivityContext Context => _train?.Context ?? default;

    /// <summary>
    /// Step <paramref name="step"/> is about to begin reading epoch <paramref name="epoch"/> (the data position
    /// before the step): the epoch's span starts here, so that it holds its first step too.
    /// </summary>
    public void BeforeStep(int epoch, int step)
    {
        if (epoch != _epochNumber) StartEpoch(epoch, step);
    }

    /// <summary>A training step ended; <paramref name="startedAt"/> is its Stopwatch timestamp before it began.</summary>
    public void OnStep(int step, long startedAt, TimeSpan allReduceTime, long allReduceBytes, int worldSize)
    {
        var elapsed = Stopwatch.GetElapsedTime(startedAt);
        StepDuration.Record(elapsed.TotalSeconds);
        if (allReduceBytes == _allReduceBytes) return;
        var reduceTime = allReduceTime - _allReduceTime;
        var reduceBytes = allReduceBytes - _allReduceBytes;
        _allReduceTime = allReduceTime;
        _allReduceBytes = allReduceBytes;
        AllReduceDuration.Record(reduceTime.TotalSeconds);
        AllReduceBytes.Add(reduceBytes);
        if (step % AllReduceSpanEvery != 0 || _train is null) return;
        // The step's all-reduces are spread over it; one span of their summed time, ending now, stands for them.
        var end = DateTimeOffset.UtcNow;
        var previous = Activity.Current;
        var span = CollectivesSource.StartActivity(SpanNames.AllReduce, ActivityKind.Internal, (_epoch ?? _train).Context,
            [new(AttributeNames.Step, step), new(AttributeNames.WorldSize, worldSize), new("orchestrator.allreduce.bytes", reduceBytes)],
            startTime: end - reduceTime);
        if (span is not null)
        {
            span.SetEndTime(end.UtcDateTime);
            span.Stop();
        }
        Activity.Current = previous;
    }

    /// <summary>Wraps one evaluation; dispose it when the evaluation (and its sample grid) is done.</summary>
    public Scope Evaluation(int step) => new(Child(SpanNames.Evaluation, step), EvalDuration);

    /// <summary>Wraps one checkpoint write; dispose it after <see cref="Scope.Written"/>.</summary>
    public Scope Checkpoint(int step) => new(Child(SpanNames.Checkpoint, step), CheckpointDuration);

    /// <summary>The run ends with this status; failures mark the span and record the exception.</summary>
    public void Finish(string status, string? reason, Exception? exception = null)
    {
        if (_train is null) return;
        _train.SetTag("orchestrator.train.status", status);
        if (status is TrialStatus.Failed or TrialStatus.Diverged) _train.SetStatus(ActivityStatusCode.Error, reason);
        if (exception is not null) _train.AddException(exception);
    }

    private void StartEpoch(int epoch, int step)
    {
        _epoch?.Stop();
        _epochNumber = epoch;
        if (_train is null) return;
        var previous = Activity.Current;
        _epoch = Source.StartActivity(SpanNames.Epoch, ActivityKind.Internal, _train.Context,
            [new(AttributeNames.Epoch, epoch), new(AttributeNames.Step, step)]);
        Activity.Current = previous;
    }

    private Activity? Child(string name, int step)
    {
        var parent = _epoch ?? _train;
        if (parent is null) return null;
        var previous = Activity.Current;
        var activity = Source.StartActivity(name, ActivityKind.Internal, parent.Context, [new(AttributeNames.Step, step)]);
        Activity.Current = previous;
        return activity;
    }

    public void Dispose()
    {
        var previous = Activity.Current;
        _epoch?.Stop();
        _train?.Stop();
        Activity.Current = previous;
    }

    /// <summary>An evaluation or a checkpoint in progress.</summary>
    public readonly struct Scope(Activity? activity, Histogram<double> duration) : IDisposable
    {
        private readonly long _started = Stopwatch.GetTimestamp();

        /// <summary>A checkpoint file was written: its size.</summary>
        public void Written(string path)
        {
            var size = new FileInfo(path).Length;
            CheckpointSize.Record(size);
            activity?.SetTag("orchestrator.checkpoint.size", size);
        }

        public void Fail(Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            activity?.AddException(e);
        }

        public void Dispose()
        {
            duration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds);
            var previous = Activity.Current;
            activity?.Stop();
            Activity.Current = previous;
        }
    }
}
