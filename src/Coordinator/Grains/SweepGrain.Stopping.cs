using System.Collections.Immutable;
using Orchestrator.Coordinator.Artifacts;
using Orchestrator.Coordinator.Search;
using Orchestrator.Coordinator.Sweeps;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Grains;

/// <summary>
/// The sweep's decisions on intermediate metrics: early stopping (median, ASHA, Hyperband) and PBT's exploit and
/// explore. The grain only routes reports and carries out decisions; the stopper and the controller decide, and
/// their states are persisted with the sweep.
/// </summary>
public sealed partial class SweepGrain
{
    private IEarlyStopper? _stopper;
    private PbtController? _pbt;

    private void LoadStopping(State saved)
    {
        var spec = _spec!;
        _stopper = null;
        _pbt = null;
        if (spec.EarlyStopping.Algorithm != EarlyStoppingAlgorithms.None)
        {
            var steps = (int)Math.Min(int.MaxValue, TotalSteps(spec.Trial));
            _stopper = saved.StopperState is null
                ? EarlyStopperFactory.Create(spec.EarlyStopping, steps)
                : EarlyStopperFactory.Restore(spec.EarlyStopping, steps, saved.StopperState);
        }
        if (spec.Search.Algorithm == SearchAlgorithms.Pbt)
        {
            _pbt = saved.PbtState is null
                ? new PbtController(_space!, spec.Search)
                : PbtController.Restore(_space!, spec.Search, saved.PbtState);
        }
    }

    /// <summary>A trial was created from <paramref name="point"/>: a PBT member from now on.</summary>
    private void TrialCreated(int trialNumber, double[] point) => _pbt?.AddMember(trialNumber, point);

    /// <summary>A trial reached a final state: the stopper hears its final value, PBT ranks it no more.</summary>
    private void TrialEnded(TrialRecord trial, ImmutableDictionary<string, double> metrics)
    {
        if (_stopper is not null)
        {
            _stopper.Complete(trial.Number, metrics.TryGetValue(StopMetric, out var value) ? Oriented(value) : null);
            _searchDirty = true;
        }
        if (_pbt is not null && _pbt.Members.Contains(trial.Number))
        {
            _pbt.RemoveMember(trial.Number);
            _searchDirty = true;
        }
    }

    private string StopMetric => _spec!.EarlyStopping.Metric ?? _spec.Objective.Metric;

    /// <summary>Lower is better, as the stopper and the controller take values.</summary>
    private double Oriented(double value) => SweepCompletion.Loss(value, _spec!.Objective.Goal);

    /// <summary>Rank 0's intermediate metrics of a running attempt go to the stopper and to PBT; their decisions are carried out.</summary>
    private async Task JudgeProgressAsync(TrialRecord trial, AttemptRecord attempt, long step, ImmutableDictionary<string, double> metrics)
    {
        var at = (int)Math.Min(int.MaxValue, step);
        if (_stopper is not null && metrics.TryGetValue(StopMetric, out var value))
        {
            _searchDirty = true;
            if (_stopper.Report(trial.Number, at, Oriented(value)) == StopDecision.Stop)
            {
                var reason = $"{_spec!.EarlyStopping.Algorithm}: {StopMetric} = {value:G6} at step {step} is not promising";
                LogStoppedEarly(logger, Sweep.Id, trial.Number, attempt.Number, reason);
                // The attempt ends now: its members are cancelled and their slots return as their results arrive,
                // which finds the attempt ended and only frees them.
                await EndAttemptAsync(trial, attempt, AttemptStatus.StoppedEarly, reason, ImmutableDictionary<string, double>.Empty, reportingRank: -1);
                return;
            }
        }
        if (_pbt is not null && _pbt.Members.Contains(trial.Number) && metrics.TryGetValue(_spec!.Objective.Metric, out var objective))
        {
            var hasCheckpoint = trial.Artifacts.Any(a => a.Kind == ArtifactKinds.Checkpoint && a.Step == step && a.Attempt >= trial.LifeStartAttempt);
            _searchDirty = true;
            var decision = _pbt.Report(trial.Number, at, Oriented(objective), hasCheckpoint);
            if (decision.Action == PbtAction.Exploit) await ExploitAsync(trial, attempt, step, decision);
        }
    }

    /// <summary>
    /// A member's checkpoint arrived (usually just after the report of its step): PBT learns it can be copied, with
    /// the value the member had at that step. Only checkpoints that exist are ever offered as exploit sources.
    /// </summary>
    private async Task CheckpointUploadedAsync(TrialRecord trial, int attemptNumber, ArtifactRecord checkpoint)
    {
        if (_pbt is null || !_pbt.Members.Contains(trial.Number) || trial.Status != TrialStatus.Running) return;
        var attempt = trial.Attempts[^1];
        if (attempt.Number != attemptNumber || attempt.Status != AttemptStatus.Running) return;
        var metric = _spec!.Objective.Metric;
        for (var i = trial.History.Count - 1; i >= 0; i--)
        {
            var point = trial.History[i];
            if (point.Step < checkpoint.Step) break;
            if (point.Step != checkpoint.Step || !point.Metrics.TryGetValue(metric, out var value)) continue;
            _searchDirty = true;
            var decision = _pbt.Report(trial.Number, (int)Math.Min(int.MaxValue, checkpoint.Step), Oriented(value), hasCheckpoint: true);
            if (decision.Action == PbtAction.Exploit) await ExploitAsync(trial, attempt, checkpoint.Step, decision);
            else await WriteAsync();
            return;
        }
    }

    /// <summary>
    /// PBT exploit: the member's attempt stops, and the trial is queued again to continue from the source member's
    /// checkpoint with the explored parameters; the lineage records who copied whom, when, and what changed.
    /// </summary>
    private async Task ExploitAsync(TrialRecord trial, AttemptRecord attempt, long step, PbtDecision decision)
    {
        var spec = _spec!;
        var source = Sweep.Trials[decision.SourceTrial!.Value];
        var sourceStep = decision.SourceCheckpointStep!.Value;
        // The controller only learns of checkpoints this grain saw uploaded by the source's current weights.
        var checkpoint = source.Artifacts.LastOrDefault(a => a.Kind == ArtifactKinds.Checkpoint && a.Step == sourceStep && a.Attempt >= source.LifeStartAttempt)
            ?? throw new InvalidOperationException($"pbt chose trial {source.Number}'s checkpoint at step {sourceStep}, which this sweep has no record of");
        var parameters = _space!.Format(decision.NewPoint!).ToImmutableDictionary(StringComparer.Ordinal);
        var errors = new List<SpecError>();
        var configured = TrialTemplate.TryApply(spec.Trial, parameters, "trial", errors);
        if (errors.Count > 0)
        {
            // Each value lies within its bounds (checked at submit); a combination of them can still be invalid.
            await EndAttemptAsync(trial, attempt, AttemptStatus.Failed, $"pbt explore gave an invalid configuration: {string.Join("; ", errors)}",
                ImmutableDictionary<string, double>.Empty, reportingRank: -1);
            return;
        }
        var reason = $"pbt exploit at step {step}: continues from trial {source.Number}'s {checkpoint.Name} with new parameters";
        var now = DateTime.UtcNow;
        attempt = attempt with { Status = AttemptStatus.StoppedEarly, EndedAt = now, Reason = reason };
        trial = Replace(trial, attempt) with
        {
            Status = TrialStatus.Queued,
            Parameters = parameters,
            TotalSteps = TotalSteps(configured),
            Step = checkpoint.Step,
            Checkpoint = checkpoint.Name,
            CheckpointStep = checkpoint.Step,
            CheckpointTrial = source.Number,
            LifeStartAttempt = attempt.Number + 1,
            Reason = null,
            Lineage = trial.Lineage.Add(new LineageRecord
            {
                Step = step,
                SourceTrial = source.Number,
                SourceCheckpoint = checkpoint.Name,
                SourceCheckpointStep = checkpoint.Step,
                OldParameters = trial.Parameters,
                NewParameters = parameters,
                At = now,
            }),
        };
        await CancelMembersAsync(trial, attempt, exceptRank: -1, reason);
        Update(Sweep with { Trials = Sweep.Trials.SetItem(trial.Number, trial) }, saveSearch: true);
        await WriteAsync();
        LogExploited(logger, Sweep.Id, trial.Number, step, source.Number, checkpoint.Name);
        NotifyTrial(trial);
        await Scheduler.EnqueueAsync(Request(trial));
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Sweep {SweepId} trial {Trial} attempt {Attempt} stopped early: {Reason}")]
    private static partial void LogStoppedEarly(ILogger logger, string sweepId, int trial, int attempt, string reason);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Sweep {SweepId} trial {Trial} exploits at step {Step}: copies trial {Source}'s {Checkpoint}")]
    private static partial void LogExploited(ILogger logger, string sweepId, int trial, long step, int source, string checkpoint);
}
