using System.Diagnostics;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Sweeps;
using Orchestrator.Shared.Telemetry;

namespace Orchestrator.Coordinator.Telemetry;

/// <summary>
/// One sweep grain's spans and figures, driven by comparing each new <see cref="SweepRecord"/> with the previous one
/// (so the grain calls one method wherever its state changes): sweep → trial → attempt spans, kept open in memory
/// while the grain is active, and the trial counts behind <c>orchestrator.trials</c>.
/// </summary>
/// <remarks>
/// Spans cannot outlive a process, so the sweep span's context is persisted (<see cref="SweepRecord.TraceParent"/>):
/// after a restart, trials and attempts that start again open new spans under the same sweep in the same trace.
/// </remarks>
public sealed class SweepTelemetry(CoordinatorTelemetry? figures) : IDisposable
{
    private readonly Dictionary<int, Activity> _trials = [];
    private readonly Dictionary<(int Trial, int Attempt), Activity> _attempts = [];
    private Activity? _sweep;

    /// <summary>Starts the sweep span under the submit span that Jobs.SubmitSweep put in the request context; its traceparent.</summary>
    public string? StartSweep(string sweepId, string name, string? parent)
    {
        ActivityContext.TryParse(parent, null, out var context);
        var previous = Activity.Current;
        _sweep = CoordinatorTelemetry.Source.StartActivity(SpanNames.Sweep, ActivityKind.Internal, context,
            [new(AttributeNames.SweepId, sweepId), new(AttributeNames.SweepName, name)]);
        Activity.Current = previous;
        return _sweep?.Id;
    }

    /// <summary>The trace id in a traceparent, or null.</summary>
    public static string? TraceIdOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var context) ? context.TraceId.ToHexString() : null;

    /// <summary>The grain activated with a stored sweep: its figures count again; spans open as work starts.</summary>
    public void Resume(SweepRecord sweep)
    {
        if (figures is null) return;
        var counts = new int[Enum.GetValues<TrialStatus>().Length];
        foreach (var trial in sweep.Trials) counts[(int)trial.Status]++;
        figures.SetSweep(sweep.Id, sweep.Status, counts);
    }

    /// <summary>The W3C traceparent of an attempt's span, for the workers' Assign messages.</summary>
    public string? AttemptTraceParent(int trial, int attempt) => _attempts.TryGetValue((trial, attempt), out var a) ? a.Id : null;

    /// <summary>Opens and closes spans for what changed between two versions of the sweep.</summary>
    public void Observe(SweepRecord? before, SweepRecord after)
    {
        var countsChanged = before is null || before.Status != after.Status || before.Trials.Count != after.Trials.Count;
        for (var i = 0; i < after.Trials.Count; i++)
        {
            var next = after.Trials[i];
            var prior = before is not null && i < before.Trials.Count ? before.Trials[i] : null;
            if (ReferenceEquals(prior, next)) continue;
            if (prior is null || prior.Status != next.Status) countsChanged = true;
            ObserveTrial(after, prior, next);
        }
        if (after.Status != SweepStatus.Running && before?.Status is null or SweepStatus.Running) EndSweep(after);
        if (countsChanged) Resume(after);
    }

    private void ObserveTrial(SweepRecord sweep, TrialRecord? prior, TrialRecord next)
    {
        for (var a = prior?.Attempts.Count ?? 0; a < next.Attempts.Count; a++) StartAttempt(sweep, next, next.Attempts[a]);
        var shared = Math.Min(prior?.Attempts.Count ?? 0, next.Attempts.Count);
        for (var a = 0; a < next.Attempts.Count; a++)
        {
            var attempt = next.Attempts[a];
            var was = a < shared ? prior!.Attempts[a].Status : AttemptStatus.Running;
            if (attempt.Status != AttemptStatus.Running && was == AttemptStatus.Running) EndAttempt(next, attempt);
        }
        var finished = next.Status is not (TrialStatus.Queued or TrialStatus.Running);
        if (prior is null && !finished) TrialSpan(sweep, next);
        if (finished && (prior is null || prior.Status is TrialStatus.Queued or TrialStatus.Running)) EndTrial(sweep, next);
    }

    private Activity? TrialSpan(SweepRecord sweep, TrialRecord trial)
    {
        if (_trials.TryGetValue(trial.Number, out var existing)) return existing;
        var parent = _sweep?.Context ?? Parse(sweep.TraceParent);
        var previous = Activity.Current;
        var activity = CoordinatorTelemetry.Source.StartActivity(SpanNames.Trial, ActivityKind.Internal, parent,
            [new(AttributeNames.SweepId, sweep.Id), new(AttributeNames.TrialNumber, trial.Number)]);
        Activity.Current = previous;
        if (activity is null) return null;
        foreach (var (name, value) in trial.Parameters) activity.SetTag($"orchestrator.parameter.{name}", value);
        _trials[trial.Number] = activity;
        return activity;
    }

    private void StartAttempt(SweepRecord sweep, TrialRecord trial, AttemptRecord attempt)
    {
        if (attempt.Status != AttemptStatus.Running) return;
        if (TrialSpan(sweep, trial) is not { } parent) return;
        var previous = Activity.Current;
        var activity = CoordinatorTelemetry.Source.StartActivity(SpanNames.Attempt, ActivityKind.Producer, parent.Context,
            [
                new(AttributeNames.SweepId, sweep.Id), new(AttributeNames.TrialNumber, trial.Number),
                new(AttributeNames.AttemptNumber, attempt.Number), new(AttributeNames.WorkerId, string.Join(",", attempt.Workers)),
            ], startTime: attempt.StartedAt);
        Activity.Current = previous;
        if (activity is not null) _attempts[(trial.Number, attempt.Number)] = activity;
    }

    private void EndAttempt(TrialRecord trial, AttemptRecord attempt)
    {
        figures?.AttemptEnded(attempt.Status);
        if (!_attempts.Remove((trial.Number, attempt.Number), out var activity)) return;
        activity.SetTag(AttributeNames.AttemptResult, Statuses.Name(attempt.Status));
        if (attempt.Status is AttemptStatus.Failed or AttemptStatus.Diverged or AttemptStatus.Interrupted)
            activity.SetStatus(ActivityStatusCode.Error, attempt.Reason);
        Stop(activity);
    }

    private void EndTrial(SweepRecord sweep, TrialRecord trial)
    {
        // A trial that never ran (invalid configuration, cancelled in the queue) still gets its span, so the trace shows it.
        var activity = _trials.Remove(trial.Number, out var open) ? open : TrialSpan(sweep, trial) is { } made && _trials.Remove(trial.Number) ? made : null;
        if (activity is null) return;
        activity.SetTag(AttributeNames.TrialState, Statuses.Name(trial.Status));
        if (trial.Objective is { } objective) activity.SetTag("orchestrator.objective", objective);
        if (trial.Status is TrialStatus.Failed or TrialStatus.Diverged) activity.SetStatus(ActivityStatusCode.Error, trial.Reason);
        Stop(activity);
    }

    private void EndSweep(SweepRecord sweep)
    {
        if (_sweep is null) return;
        _sweep.SetTag(AttributeNames.SweepState, Statuses.Name(sweep.Status));
        if (sweep.BestObjective is { } best) _sweep.SetTag("orchestrator.best_objective", best);
        if (sweep.Status == SweepStatus.Failed) _sweep.SetStatus(ActivityStatusCode.Error, sweep.Reason);
        Stop(_sweep);
        _sweep = null;
    }

    /// <summary>The grain deactivates: open spans end here (what follows after reactivation gets new ones).</summary>
    public void Dispose()
    {
        foreach (var activity in _attempts.Values) Stop(activity);
        foreach (var activity in _trials.Values) Stop(activity);
        _attempts.Clear();
        _trials.Clear();
        if (_sweep is not null) Stop(_sweep);
        _sweep = null;
    }

    private static ActivityContext Parse(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var context) ? context : default;

    private static void Stop(Activity activity)
    {
        // Stop makes the activity's parent current; the grain's own flow must not inherit it.
        var previous = Activity.Current;
        activity.Stop();
        Activity.Current = previous;
    }
}
