using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Orchestrator.Coordinator.Sweeps;
using Orchestrator.Shared.Telemetry;

namespace Orchestrator.Coordinator.Telemetry;

/// <summary>
/// The coordinator's instruments (one per process, a DI singleton): observable gauges read figures the grains push
/// here after each change, so a scrape never calls into a grain.
/// </summary>
public sealed class CoordinatorTelemetry : IDisposable
{
    /// <summary>Spans of submit, sweep, trial and attempt.</summary>
    public static readonly ActivitySource Source = new(TelemetryNames.Coordinator, ServiceDefaultsExtensions.Version);

    /// <summary>The Orleans RequestContext key carrying the submit span's W3C traceparent to the sweep grain.</summary>
    public const string TraceParentKey = "orchestrator.traceparent";

    private static readonly TrialStatus[] TrialStatuses = Enum.GetValues<TrialStatus>();
    private static readonly SweepStatus[] SweepStatuses = Enum.GetValues<SweepStatus>();
    private readonly Meter _meter;
    private readonly ConcurrentDictionary<string, (int[] Trials, SweepStatus Status)> _sweeps = new(StringComparer.Ordinal);
    private volatile SchedulerFigures _scheduler = new(0, 0, 0, 0);
    private readonly Histogram<double> _dispatch;
    private readonly Counter<long> _attempts;
    private readonly Histogram<double> _sweepWrites;

    public CoordinatorTelemetry(IMeterFactory meters)
    {
        _meter = meters.Create(TelemetryNames.Coordinator, ServiceDefaultsExtensions.Version);
        _meter.CreateObservableGauge(MetricNames.Trials, ObserveTrials, MetricNames.Units.Trial, "Trials by state");
        _meter.CreateObservableGauge(MetricNames.Sweeps, ObserveSweeps, MetricNames.Units.Sweep, "Sweeps by state");
        _meter.CreateObservableGauge(MetricNames.QueueLength, () => _scheduler.Queue, MetricNames.Units.Request, "Placement requests waiting for slots");
        _meter.CreateObservableGauge(MetricNames.WorkerSlots, ObserveSlots, MetricNames.Units.Slot, "Worker slots by state");
        _meter.CreateObservableGauge(MetricNames.Workers, () => _scheduler.Workers, MetricNames.Units.Worker, "Workers holding a live lease");
        _dispatch = _meter.CreateHistogram(MetricNames.DispatchDuration, MetricNames.Units.Seconds,
            "From a trial's placement request to its assignment being handed to a worker", tags: null, advice: HistogramBuckets.Seconds);
        _attempts = _meter.CreateCounter<long>(MetricNames.Attempts, MetricNames.Units.Attempt, "Attempts that ended, by result");
        _sweepWrites = _meter.CreateHistogram(MetricNames.SweepWriteDuration, MetricNames.Units.Seconds,
            "One persisted write of a sweep's state (its header and the trials that changed)", tags: null, advice: HistogramBuckets.Seconds);
    }

    /// <summary>A sweep's trial counts by state, indexed by <see cref="TrialStatus"/>.</summary>
    public void SetSweep(string sweepId, SweepStatus status, int[] trialsByStatus) => _sweeps[sweepId] = (trialsByStatus, status);

    /// <summary>The scheduler's figures after a change.</summary>
    public void SetScheduler(int queue, int free, int busy, int workers) => _scheduler = new SchedulerFigures(queue, free, busy, workers);

    public void RecordDispatch(TimeSpan elapsed) => _dispatch.Record(elapsed.TotalSeconds);

    public void RecordSweepWrite(TimeSpan elapsed) => _sweepWrites.Record(elapsed.TotalSeconds);

    public void AttemptEnded(AttemptStatus status) =>
        _attempts.Add(1, new KeyValuePair<string, object?>(AttributeNames.AttemptResult, Statuses.Name(status)));

    private IEnumerable<Measurement<int>> ObserveTrials()
    {
        var totals = new int[TrialStatuses.Length];
        foreach (var (trials, _) in _sweeps.Values)
            for (var i = 0; i < totals.Length && i < trials.Length; i++) totals[i] += trials[i];
        for (var i = 0; i < totals.Length; i++)
            yield return new Measurement<int>(totals[i], new KeyValuePair<string, object?>(AttributeNames.TrialState, Statuses.Name(TrialStatuses[i])));
    }

    private IEnumerable<Measurement<int>> ObserveSweeps()
    {
        var totals = new int[SweepStatuses.Length];
        foreach (var (_, status) in _sweeps.Values) totals[(int)status]++;
        for (var i = 0; i < totals.Length; i++)
            yield return new Measurement<int>(totals[i], new KeyValuePair<string, object?>(AttributeNames.SweepState, Statuses.Name(SweepStatuses[i])));
    }

    private IEnumerable<Measurement<int>> ObserveSlots()
    {
        var figures = _scheduler;
        yield return new Measurement<int>(figures.Free, new KeyValuePair<string, object?>(AttributeNames.SlotState, AttributeNames.SlotFree));
        yield return new Measurement<int>(figures.Busy, new KeyValuePair<string, object?>(AttributeNames.SlotState, AttributeNames.SlotBusy));
    }

    public void Dispose() => _meter.Dispose();

    private sealed record SchedulerFigures(int Queue, int Free, int Busy, int Workers);
}
