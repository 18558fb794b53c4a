using System.Diagnostics;
using System.Diagnostics.Metrics;
using Orchestrator.Shared.Telemetry;
using Orchestrator.Worker.Training;

namespace Orchestrator.Worker.Agent;

/// <summary>
/// The worker agent's spans and metrics. Per-trial figures (losses, throughput, step, evaluation, samples) are
/// recorded here from the trial processes' event streams, so the worker's Prometheus endpoint shows them even though
/// a trial process lives shorter than a scrape interval would need; attributes are the sweep id and trial number.
/// </summary>
internal static class AgentTelemetry
{
    public static readonly ActivitySource Source = new(TelemetryNames.WorkerAgent, ServiceDefaultsExtensions.Version);
    private static readonly Meter Meter = new(TelemetryNames.WorkerAgent, ServiceDefaultsExtensions.Version);
    private static readonly UpDownCounter<int> Active = Meter.CreateUpDownCounter<int>(MetricNames.AgentAttemptsActive,
        MetricNames.Units.Attempt, "Attempts this worker is running");
    private static readonly Histogram<double> Upload = Meter.CreateHistogram(MetricNames.ArtifactUploadDuration,
        MetricNames.Units.Seconds, "Artifact uploads to the coordinator", tags: null, advice: HistogramBuckets.Seconds);
    private static readonly Counter<long> Samples = Meter.CreateCounter<long>(MetricNames.TrainSamples,
        MetricNames.Units.Sample, "Real samples the discriminator has seen");
    private static readonly Gauge<double> Throughput = Meter.CreateGauge<double>(MetricNames.TrainSamplesPerSecond,
        MetricNames.Units.SamplesPerSecond, "Latest samples/s of a trial");
    private static readonly Gauge<double> Loss = Meter.CreateGauge<double>(MetricNames.TrainLoss, MetricNames.Units.Loss,
        "Latest D and G loss of a trial");
    private static readonly Gauge<long> StepGauge = Meter.CreateGauge<long>(MetricNames.TrainStep, MetricNames.Units.Step,
        "Latest step of a trial");
    private static readonly Gauge<double> Eval = Meter.CreateGauge<double>(MetricNames.EvalValue, MetricNames.Units.Value,
        "Latest evaluation figures of a trial");

    /// <summary>Starts the worker's attempt span under the coordinator's (Assign.traceparent).</summary>
    public static Activity? StartAttempt(Shared.Protos.Assign assign, string workerId)
    {
        ActivityContext.TryParse(assign.Traceparent, null, out var parent);
        Active.Add(1);
        return Source.StartActivity(SpanNames.WorkerAttempt, ActivityKind.Consumer, parent,
            [
                new(AttributeNames.SweepId, assign.SweepId), new(AttributeNames.TrialNumber, assign.TrialNumber),
                new(AttributeNames.AttemptNumber, assign.AttemptNumber), new(AttributeNames.Rank, assign.Rank),
                new(AttributeNames.WorldSize, assign.WorldSize), new(AttributeNames.WorkerId, workerId),
            ]);
    }

    public static void EndAttempt(Activity? activity, Shared.Protos.AttemptResult result, Exception? exception)
    {
        Active.Add(-1);
        if (activity is null) return;
        activity.SetTag(AttributeNames.AttemptResult, result.Status.ToString().ToLowerInvariant());
        if (result.Status is Shared.Protos.ResultStatus.Failed or Shared.Protos.ResultStatus.Diverged)
            activity.SetStatus(ActivityStatusCode.Error, result.Reason);
        if (exception is not null) activity.AddException(exception);
        activity.Stop();
    }

    public static Activity? StartUpload(string kind, string name, long step) =>
        Source.StartActivity(SpanNames.ArtifactUpload, ActivityKind.Client, default(ActivityContext),
            [new(AttributeNames.ArtifactKind, kind), new("orchestrator.artifact.name", name), new(AttributeNames.Step, step)]);

    public static void UploadDone(string kind, TimeSpan elapsed) =>
        Upload.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>(AttributeNames.ArtifactKind, kind));

    /// <summary>Per-trial figures from one event of a trial process (rank 0's, so a group counts once).</summary>
    public static void Record(TrialEvent e, string sweepId, int trialNumber, long samplesPerStep, ref long lastStep)
    {
        var sweep = new KeyValuePair<string, object?>(AttributeNames.SweepId, sweepId);
        var trial = new KeyValuePair<string, object?>(AttributeNames.TrialNumber, trialNumber);
        if (e.Step is { } step)
        {
            StepGauge.Record(step, sweep, trial);
            if (e.Kind == "step" && step > lastStep)
            {
                // The first report after a resume counts from the resumed step, not from zero.
                if (lastStep >= 0) Samples.Add((step - lastStep) * samplesPerStep, sweep, trial);
                lastStep = step;
            }
            else if (e.Kind == "start") lastStep = step;
        }
        if (e.Metrics is not { } metrics) return;
        if (e.Kind == "step")
        {
            if (metrics.TryGetValue("d_loss", out var d))
                Loss.Record(d, sweep, trial, new KeyValuePair<string, object?>(AttributeNames.Network, AttributeNames.Discriminator));
            if (metrics.TryGetValue("g_loss", out var g))
                Loss.Record(g, sweep, trial, new KeyValuePair<string, object?>(AttributeNames.Network, AttributeNames.Generator));
            if (metrics.TryGetValue("samples_per_sec", out var rate)) Throughput.Record(rate, sweep, trial);
        }
        else if (e.Kind == "eval")
        {
            foreach (var (name, value) in metrics)
                if (double.IsFinite(value)) Eval.Record(value, sweep, trial, new KeyValuePair<string, object?>(AttributeNames.EvalMetric, name));
        }
    }
}
