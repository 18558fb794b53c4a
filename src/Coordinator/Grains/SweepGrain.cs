using System.Collections.Immutable;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Artifacts;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Coordinator.Scheduling;
using Orchestrator.Coordinator.Search;
using Orchestrator.Coordinator.Storage;
using Orchestrator.Coordinator.Sweeps;
using Orchestrator.Coordinator.Telemetry;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Grains;

/// <summary>
/// One sweep: asks its searcher for configurations, hands trials to the scheduler, turns members' results into trial
/// outcomes (with retries), and persists everything, searcher state included, so a restart continues the search.
/// </summary>
public sealed partial class SweepGrain(
    ISweepStore store,
    IOptions<CoordinatorOptions> options,
    ILogger<SweepGrain> logger) : Grain, ISweepGrain
{
    /// <summary>Most metric points kept per trial; older ones are dropped first.</summary>
    private const int MaxHistory = 2000;

    /// <summary>The persisted sweep and its searcher's state, written together so they never disagree.</summary>
    [GenerateSerializer, Immutable]
    public sealed record State
    {
        [Id(0)] public SweepRecord? Sweep { get; init; }
        [Id(1)] public string? SearcherState { get; init; }
        /// <summary>The early stopper's state (early_stopping other than none).</summary>
        [Id(2)] public string? StopperState { get; init; }
        /// <summary>The PBT controller's state: members' current (perturbed) points and the lineage.</summary>
        [Id(3)] public string? PbtState { get; init; }
    }

    private readonly HashSet<ISweepObserver> _watchers = [];
    private SweepSpec? _spec;
    private SearchSpace? _space;
    private ISearcher? _searcher;
    private bool _dirty;
    /// <summary>The searcher, stopper or PBT controller changed since their states were last saved.</summary>
    private bool _searchDirty;
    private IGrainTimer? _flushTimer;
    private SweepTelemetry? _telemetry;
    private SweepPersistence? _state;
    private CoordinatorTelemetry? _instruments;

    /// <summary>The persisted sweep: read on activation, written header plus changed trials (see <see cref="SweepPersistence"/>).</summary>
    private SweepPersistence state => _state ??= new SweepPersistence(store, ServiceProvider.GetRequiredService<Orleans.Serialization.Serializer>(), this.GetPrimaryKeyString());

    private SweepTelemetry Telemetry => _telemetry ??= new SweepTelemetry(Instruments);

    /// <summary>The process's instruments, resolved once per activation (null where telemetry is not registered).</summary>
    private CoordinatorTelemetry? Instruments => _instruments ??= ServiceProvider.GetService<CoordinatorTelemetry>();

    private ISchedulerGrain Scheduler => GrainFactory.GetGrain<ISchedulerGrain>(0);

    private SweepRecord Sweep => state.State.Sweep ?? throw new KeyNotFoundException($"sweep {this.GetPrimaryKeyString()} does not exist");

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await state.ReadAsync(ServiceProvider.GetKeyedService<Orleans.Storage.IGrainStorage>(StorageNames.Sweeps), this.GetGrainId());
        if (state.State.Sweep is not { } sweep) return;
        Load(sweep, state.State);
        Telemetry.Resume(sweep);
        if (sweep.Status != SweepStatus.Running) return;
        // Queued trials go back to the scheduler (it ignores ones it already holds); running members get one lease
        // to show up on their workers, which after a restart is how long a worker has to reconnect and re-attach.
        foreach (var trial in sweep.Trials.Where(t => t.Status == TrialStatus.Queued))
            await Scheduler.EnqueueAsync(Request(trial));
        if (sweep.Trials.Any(t => t.Status == TrialStatus.Running))
        {
            var grace = TimeSpan.FromSeconds(options.Value.Workers.LeaseSeconds + options.Value.Workers.HeartbeatSeconds);
            this.RegisterGrainTimer(CheckRunningMembersAsync, new GrainTimerCreationOptions(grace, Timeout.InfiniteTimeSpan) { Interleave = false });
        }
        await PumpAsync();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_dirty) await WriteAsync();
        _telemetry?.Dispose();
    }

    public async Task<bool> SubmitAsync(byte[] specProto, string name)
    {
        if (state.State.Sweep is { } existing)
        {
            if (existing.SpecProto.AsSpan().SequenceEqual(specProto)) return false;
            throw new SweepConflictException($"sweep {existing.Id} was submitted with this request id and a different spec");
        }
        var spec = Parse(specProto);
        var searcher = SearcherFactory.Create(spec.Search, spec.Parameters);
        state.State = new State
        {
            Sweep = new SweepRecord
            {
                Id = this.GetPrimaryKeyString(),
                Name = name,
                Status = SweepStatus.Running,
                CreatedAt = DateTime.UtcNow,
                SpecProto = specProto,
                MaxTrials = spec.Budget.MaxTrials,
                TraceParent = Telemetry.StartSweep(this.GetPrimaryKeyString(), name, RequestContext.Get(CoordinatorTelemetry.TraceParentKey) as string),
            },
            SearcherState = searcher.SaveState(),
        };
        Load(state.State.Sweep, state.State);
        _searchDirty = true;
        LogSubmitted(logger, Sweep.Id, name, spec.Budget.MaxTrials);
        await PumpAsync(force: true);
        return true;
    }

    public Task<SweepRecord?> GetAsync() => Task.FromResult(state.State.Sweep);

    public Task<TrialRecord?> GetTrialAsync(int trialNumber)
    {
        var trials = state.State.Sweep?.Trials;
        return Task.FromResult(trials is not null && trialNumber >= 0 && trialNumber < trials.Count ? trials[trialNumber] : null);
    }

    public Task ResumeAsync() => Task.CompletedTask;

    public async Task<SweepStatus> CancelAsync(string reason)
    {
        if (Sweep.Status != SweepStatus.Running) return Sweep.Status;
        await StopAsync(SweepStatus.Canceled, reason);
        return SweepStatus.Canceled;
    }

    /// <summary>Ends a running sweep: queued trials withdrawn, running attempts cancelled on their workers.</summary>
    private async Task StopAsync(SweepStatus final, string reason)
    {
        var sweep = Sweep;
        var now = DateTime.UtcNow;
        var trials = sweep.Trials;
        foreach (var trial in sweep.Trials)
        {
            if (trial.Status == TrialStatus.Queued)
            {
                await Scheduler.WithdrawAsync(sweep.Id, trial.Number);
                trials = trials.SetItem(trial.Number, trial with { Status = TrialStatus.Canceled, Reason = reason });
            }
            else if (trial.Status == TrialStatus.Running)
            {
                var attempt = trial.Attempts[^1];
                await CancelMembersAsync(trial, attempt, exceptRank: -1, reason);
                trials = trials.SetItem(trial.Number, trial with
                {
                    Status = TrialStatus.Canceled,
                    Reason = reason,
                    Attempts = trial.Attempts.SetItem(trial.Attempts.Count - 1, attempt with { Status = AttemptStatus.Canceled, EndedAt = now, Reason = reason }),
                });
            }
        }
        Update(sweep with { Trials = trials, Status = final, Reason = reason });
        await WriteAsync();
        foreach (var trial in Sweep.Trials.Where(t => t.Status == TrialStatus.Canceled)) NotifyTrial(trial);
        NotifyFinished();
        LogFinished(logger, sweep.Id, final, reason);
    }

    public async Task<ImmutableArray<Assignment>> StartAttemptAsync(int trialNumber, int attemptNumber, ImmutableArray<string> workers, ImmutableArray<string> endpoints)
    {
        var sweep = state.State.Sweep;
        if (sweep is null || sweep.Status != SweepStatus.Running || trialNumber >= sweep.Trials.Count) return [];
        var trial = sweep.Trials[trialNumber];
        if (trial.Status != TrialStatus.Queued || trial.Attempts.Count + 1 != attemptNumber) return [];
        var spec = _spec!;
        var configured = TrialTemplate.Apply(spec.Trial, trial.Parameters).ToProto().ToByteArray();
        var attempt = new AttemptRecord
        {
            Number = attemptNumber,
            Status = AttemptStatus.Running,
            Workers = workers,
            MembersDone = ImmutableArray.CreateRange(Enumerable.Repeat(false, workers.Length)),
            StartedAt = DateTime.UtcNow,
            ResumedFrom = trial.Checkpoint,
            ResumedFromTrial = trial.Checkpoint is null ? null : trial.CheckpointTrial,
        };
        trial = trial with { Status = TrialStatus.Running, Attempts = trial.Attempts.Add(attempt) };
        Update(sweep with { Trials = sweep.Trials.SetItem(trialNumber, trial) });
        // Persisted before any member is assigned: attempt numbers name members and their collective group, and a
        // number reused after a crash could let a stale member join the new attempt's group.
        await WriteAsync();
        NotifyTrial(trial);
        var group = MemberIds.Group(sweep.Id, trialNumber, attemptNumber);
        var assignments = ImmutableArray.CreateBuilder<Assignment>(workers.Length);
        for (var rank = 0; rank < workers.Length; rank++)
        {
            assignments.Add(new Assignment
            {
                MemberId = MemberIds.Format(sweep.Id, trialNumber, attemptNumber, rank),
                WorkerId = workers[rank],
                SweepId = sweep.Id,
                TrialNumber = trialNumber,
                AttemptNumber = attemptNumber,
                Rank = rank,
                WorldSize = workers.Length,
                PeerEndpoints = endpoints,
                GroupId = group,
                Devices = spec.Resources.Devices,
                ResumeArtifact = trial.Checkpoint,
                ResumeTrialNumber = trial.Checkpoint is null ? null : trial.CheckpointTrial,
                TraceParent = Telemetry.AttemptTraceParent(trialNumber, attemptNumber) ?? $"00-{trial.TraceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01",
                TrialSpec = configured,
                Parameters = trial.Parameters,
            });
        }
        LogAttemptStarted(logger, sweep.Id, trialNumber, attemptNumber, string.Join(",", workers), trial.Checkpoint ?? "");
        return assignments.MoveToImmutable();
    }

    public async Task ProgressAsync(string memberId, long step, ImmutableDictionary<string, double> metrics)
    {
        var id = MemberIds.Parse(memberId);
        if (!TryFind(id, out var trial, out var attempt) || attempt.Status != AttemptStatus.Running || id.Rank != 0)
            return;
        var history = trial.History.Add(new MetricPoint { Step = step, Metrics = metrics });
        if (history.Count > MaxHistory) history = history.RemoveAt(0);
        trial = trial with { Step = Math.Max(trial.Step, step), LastMetrics = trial.LastMetrics.SetItems(metrics), History = history };
        Update(Sweep with { Trials = Sweep.Trials.SetItem(trial.Number, trial) });
        // Progress is persisted in batches (every state change writes at once anyway), not once per report.
        Defer();
        foreach (var watcher in _watchers) watcher.Progress(trial.Number, step, metrics);
        await JudgeProgressAsync(trial, attempt, step, metrics);
    }

    public async Task ResultAsync(string memberId, MemberResult result)
    {
        var id = MemberIds.Parse(memberId);
        await Scheduler.ReleaseAsync(memberId);
        if (!TryFind(id, out var trial, out var attempt)) return;
        attempt = attempt with { MembersDone = attempt.MembersDone.SetItem(id.Rank, true) };
        trial = Replace(trial, attempt);
        if (attempt.Status != AttemptStatus.Running)
        {
            // A member of an attempt that already ended (cancelled, or lost a peer) reporting how it stopped.
            Update(Sweep with { Trials = Sweep.Trials.SetItem(trial.Number, trial) });
            await WriteAsync();
            return;
        }
        var status = result.Status;
        var reason = result.Reason;
        if (status == AttemptStatus.Canceled)
        {
            // Nobody asked it to stop: the worker gave up on it (shutting down), which is infrastructure's doing.
            status = AttemptStatus.Interrupted;
            reason = $"cancelled by worker {attempt.Workers[id.Rank]}: {reason}";
        }
        if (status is AttemptStatus.Completed or AttemptStatus.StoppedEarly && id.Rank != 0)
        {
            // The group's result is rank 0's; the others' completion only frees their slots.
            Update(Sweep with { Trials = Sweep.Trials.SetItem(trial.Number, trial) });
            await WriteAsync();
            return;
        }
        await EndAttemptAsync(trial, attempt, status, reason, result.FinalMetrics, id.Rank);
    }

    public async Task MemberLostAsync(string memberId, string reason)
    {
        var id = MemberIds.Parse(memberId);
        await Scheduler.ReleaseAsync(memberId);
        if (!TryFind(id, out var trial, out var attempt) || attempt.MembersDone[id.Rank]) return;
        attempt = attempt with { MembersDone = attempt.MembersDone.SetItem(id.Rank, true) };
        trial = Replace(trial, attempt);
        LogMemberLost(logger, memberId, reason);
        if (attempt.Status != AttemptStatus.Running)
        {
            Update(Sweep with { Trials = Sweep.Trials.SetItem(trial.Number, trial) });
            await WriteAsync();
            return;
        }
        await EndAttemptAsync(trial, attempt, AttemptStatus.Interrupted, reason, ImmutableDictionary<string, double>.Empty, id.Rank);
    }

    public Task<bool> ReattachAsync(string memberId, string workerId)
    {
        if (!MemberIds.TryParse(memberId, out var id) || !TryFind(id, out _, out var attempt)) return Task.FromResult(false);
        return Task.FromResult(attempt.Status == AttemptStatus.Running && id.Rank < attempt.Workers.Length
            && attempt.Workers[id.Rank] == workerId && !attempt.MembersDone[id.Rank]);
    }

    public async Task<bool> ArtifactUploadedAsync(string memberId, ArtifactRecord artifact)
    {
        if (!MemberIds.TryParse(memberId, out var id) || !TryFind(id, out var trial, out _)) return false;
        artifact = artifact with { Attempt = id.Attempt };
        var index = trial.Artifacts.FindIndex(a => a.Name == artifact.Name);
        trial = trial with { Artifacts = index >= 0 ? trial.Artifacts.SetItem(index, artifact) : trial.Artifacts.Add(artifact) };
        // A checkpoint of an attempt from before a PBT exploit holds the weights the trial dropped: kept, never resumed.
        var current = id.Attempt >= trial.LifeStartAttempt;
        if (artifact.Kind == ArtifactKinds.Checkpoint && current && (trial.Checkpoint is null || artifact.Step >= trial.CheckpointStep))
            trial = trial with { Checkpoint = artifact.Name, CheckpointStep = artifact.Step, CheckpointTrial = null };
        Update(Sweep with { Trials = Sweep.Trials.SetItem(trial.Number, trial) });
        // A checkpoint is what a retry resumes from: persisted before the upload is acknowledged. Sample grids and
        // metrics files can wait for the next write.
        if (artifact.Kind == ArtifactKinds.Checkpoint) await WriteAsync();
        else Defer();
        if (artifact.Kind == ArtifactKinds.Checkpoint && current) await CheckpointUploadedAsync(trial, id.Attempt, artifact);
        return true;
    }

    public Task SubscribeAsync(ISweepObserver observer)
    {
        _watchers.Add(observer);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAsync(ISweepObserver observer)
    {
        _watchers.Remove(observer);
        return Task.CompletedTask;
    }

    private async Task EndAttemptAsync(TrialRecord trial, AttemptRecord attempt, AttemptStatus status, string? reason,
        ImmutableDictionary<string, double> finalMetrics, int reportingRank)
    {
        var sweep = Sweep;
        var spec = _spec!;
        attempt = attempt with { Status = status, EndedAt = DateTime.UtcNow, Reason = reason };
        trial = Replace(trial, attempt);
        await CancelMembersAsync(trial, attempt, reportingRank, $"attempt ended: {status}");
        var interrupted = trial.Attempts.Count(a => a.Status == AttemptStatus.Interrupted);
        var decision = RetryPolicy.Decide(status, interrupted, spec.Budget.MaxRetries, sweep.Status != SweepStatus.Running);
        var metrics = trial.LastMetrics.SetItems(finalMetrics);
        double? loss = null;
        GangRequest? retry = null;
        switch (decision)
        {
            case TrialDecision.Complete when metrics.TryGetValue(spec.Objective.Metric, out var objective):
                trial = trial with { Status = TrialStatus.Completed, Objective = objective, LastMetrics = metrics, Reason = null };
                loss = SweepCompletion.Loss(objective, spec.Objective.Goal);
                break;
            case TrialDecision.Complete:
                trial = trial with { Status = TrialStatus.Failed, LastMetrics = metrics, Reason = $"completed without reporting the objective metric '{spec.Objective.Metric}'" };
                break;
            case TrialDecision.StopEarly:
                trial = trial with
                {
                    Status = TrialStatus.StoppedEarly,
                    LastMetrics = metrics,
                    Objective = metrics.TryGetValue(spec.Objective.Metric, out var last) ? last : null,
                    Reason = reason,
                };
                // The searcher learns from the last value it reached: a stopped trial is a poor one, not a missing one.
                if (trial.Objective is { } reached) loss = SweepCompletion.Loss(reached, spec.Objective.Goal);
                break;
            case TrialDecision.Diverge:
                trial = trial with { Status = TrialStatus.Diverged, LastMetrics = metrics, Reason = reason };
                break;
            case TrialDecision.Fail:
                trial = trial with
                {
                    Status = TrialStatus.Failed,
                    LastMetrics = metrics,
                    Reason = status == AttemptStatus.Interrupted
                        ? $"{interrupted} attempts lost, more than max_retries ({spec.Budget.MaxRetries}); last: {reason}"
                        : reason,
                };
                break;
            case TrialDecision.Retry:
                trial = trial with { Status = TrialStatus.Queued, Reason = reason };
                retry = Request(trial);
                break;
            case TrialDecision.Cancel:
                trial = trial with { Status = TrialStatus.Canceled, Reason = reason };
                break;
        }
        if (trial.Status is not (TrialStatus.Queued or TrialStatus.Canceled))
            _searcher!.Observe(trial.Number, loss);
        if (trial.Status != TrialStatus.Queued) TrialEnded(trial, metrics);
        sweep = sweep with { Trials = sweep.Trials.SetItem(trial.Number, trial) };
        if (RetryPolicy.CountsAsFailure(trial.Status)) sweep = sweep with { FailedTrials = sweep.FailedTrials + 1 };
        if (trial is { Status: TrialStatus.Completed, Objective: { } value } && SweepCompletion.IsBetter(value, sweep.BestObjective, spec.Objective.Goal))
            sweep = sweep with { BestTrial = trial.Number, BestObjective = value };
        Update(sweep, saveSearch: true);
        LogAttemptEnded(logger, sweep.Id, trial.Number, attempt.Number, status, trial.Status, reason ?? "");
        NotifyTrial(trial);
        await PumpAsync(force: true);
        if (retry is not null) await Scheduler.EnqueueAsync(retry);
    }

    /// <summary>Creates trials while the budget allows, settles the sweep when it is over, and persists.</summary>
    private async Task PumpAsync(bool force = false)
    {
        var sweep = Sweep;
        var spec = _spec!;
        var created = new List<TrialRecord>();
        if (sweep.Status == SweepStatus.Running)
        {
            while (SweepCompletion.CanCreate(sweep.Trials.Count, sweep.Active, spec.Budget.MaxTrials, spec.Budget.ParallelTrials, sweep.SearchExhausted))
            {
                var number = sweep.Trials.Count;
                if (_searcher!.Suggest(number) is not { } point)
                {
                    sweep = sweep with { SearchExhausted = true };
                    break;
                }
                var parameters = _space!.Format(point).ToImmutableDictionary(StringComparer.Ordinal);
                _searchDirty = true;
                var errors = new List<SpecError>();
                var configured = TrialTemplate.TryApply(spec.Trial, parameters, "trial", errors);
                var trial = new TrialRecord
                {
                    Number = number,
                    Status = errors.Count == 0 ? TrialStatus.Queued : TrialStatus.Failed,
                    Parameters = parameters,
                    TotalSteps = TotalSteps(configured),
                    TraceId = SweepTelemetry.TraceIdOf(sweep.TraceParent) ?? ActivityTraceId.CreateRandom().ToHexString(),
                    Reason = errors.Count == 0 ? null : $"invalid configuration: {string.Join("; ", errors)}",
                };
                if (errors.Count > 0)
                {
                    // Bounds and choices were checked at submit; a combination of values can still be invalid.
                    _searcher.Observe(number, null);
                    sweep = sweep with { FailedTrials = sweep.FailedTrials + 1 };
                }
                else
                {
                    TrialCreated(number, point);
                }
                sweep = sweep with { Trials = sweep.Trials.Add(trial) };
                created.Add(trial);
            }
            if (SweepCompletion.Evaluate(sweep.Trials.Count, sweep.Active, sweep.FailedTrials, spec.Budget.MaxTrials,
                    spec.Budget.MaxFailedTrials, sweep.SearchExhausted) is { } final)
            {
                var reason = final == SweepStatus.Failed
                    ? $"{sweep.FailedTrials} trials failed, more than budget.max_failed_trials ({spec.Budget.MaxFailedTrials})"
                    : null;
                Update(sweep, saveSearch: true);
                if (final == SweepStatus.Failed)
                {
                    await StopAsync(SweepStatus.Failed, reason!);
                    return;
                }
                Update(Sweep with { Status = final });
                await WriteAsync();
                NotifyFinished();
                LogFinished(logger, sweep.Id, final, "");
                return;
            }
        }
        if (created.Count == 0 && !force) return;
        Update(sweep, saveSearch: true);
        await WriteAsync();
        foreach (var trial in created)
        {
            NotifyTrial(trial);
            if (trial.Status == TrialStatus.Queued) await Scheduler.EnqueueAsync(Request(trial));
        }
    }

    private async Task CheckRunningMembersAsync(CancellationToken cancellationToken)
    {
        foreach (var trial in Sweep.Trials.Where(t => t.Status == TrialStatus.Running).ToList())
        {
            var attempt = trial.Attempts[^1];
            for (var rank = 0; rank < attempt.Workers.Length; rank++)
            {
                if (attempt.MembersDone[rank]) continue;
                var member = MemberIds.Format(Sweep.Id, trial.Number, attempt.Number, rank);
                if (!await GrainFactory.GetGrain<IWorkerGrain>(attempt.Workers[rank]).HasMemberAsync(member))
                    await MemberLostAsync(member, $"worker {attempt.Workers[rank]} did not re-attach it within its lease after the coordinator restarted");
            }
        }
    }

    private async Task CancelMembersAsync(TrialRecord trial, AttemptRecord attempt, int exceptRank, string reason)
    {
        for (var rank = 0; rank < attempt.Workers.Length; rank++)
        {
            if (rank == exceptRank || attempt.MembersDone[rank]) continue;
            await GrainFactory.GetGrain<IWorkerGrain>(attempt.Workers[rank])
                .CancelAsync(MemberIds.Format(Sweep.Id, trial.Number, attempt.Number, rank), reason);
        }
    }

    private Task FlushAsync(CancellationToken cancellationToken) => _dirty ? WriteAsync() : Task.CompletedTask;

    /// <summary>Marks the state for the flush timer (within a second) or the next write, whichever comes first.</summary>
    private void Defer()
    {
        _dirty = true;
        _flushTimer ??= this.RegisterGrainTimer(FlushAsync, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    private async Task WriteAsync()
    {
        _dirty = false;
        if (_searchDirty)
        {
            // Saved only when written: the stopper hears every intermediate report, persisted in batches.
            _searchDirty = false;
            state.State = state.State with
            {
                SearcherState = _searcher!.SaveState(),
                StopperState = _stopper?.SaveState(),
                PbtState = _pbt?.SaveState(),
            };
        }
        var started = Stopwatch.GetTimestamp();
        await state.WriteStateAsync();
        Instruments?.RecordSweepWrite(Stopwatch.GetElapsedTime(started));
    }

    /// <param name="saveSearch">The searcher, stopper or PBT controller changed: their states go with the next write.</param>
    private void Update(SweepRecord sweep, bool saveSearch = false)
    {
        var before = state.State.Sweep;
        state.State = state.State with { Sweep = sweep };
        _searchDirty |= saveSearch;
        Telemetry.Observe(before, sweep);
    }

    private GangRequest Request(TrialRecord trial) => new()
    {
        SweepId = Sweep.Id,
        TrialNumber = trial.Number,
        AttemptNumber = trial.Attempts.Count + 1,
        Workers = _spec!.Resources.Workers,
        Devices = _spec.Resources.Devices,
    };

    private bool TryFind(MemberId id, out TrialRecord trial, out AttemptRecord attempt)
    {
        trial = null!;
        attempt = null!;
        var sweep = state.State.Sweep;
        if (sweep is null || id.SweepId != sweep.Id || id.Trial < 0 || id.Trial >= sweep.Trials.Count) return false;
        trial = sweep.Trials[id.Trial];
        if (id.Attempt < 1 || id.Attempt > trial.Attempts.Count) return false;
        attempt = trial.Attempts[id.Attempt - 1];
        return id.Rank < attempt.Workers.Length;
    }

    private static TrialRecord Replace(TrialRecord trial, AttemptRecord attempt) =>
        trial with { Attempts = trial.Attempts.SetItem(attempt.Number - 1, attempt) };

    private void Load(SweepRecord sweep, State saved)
    {
        _spec = Parse(sweep.SpecProto);
        _space = new SearchSpace(_spec.Parameters);
        _searcher = saved.SearcherState is null
            ? SearcherFactory.Create(_spec.Search, _spec.Parameters)
            : SearcherFactory.Restore(_spec.Search, _spec.Parameters, saved.SearcherState);
        LoadStopping(saved);
    }

    private static SweepSpec Parse(byte[] specProto) =>
        // Limits were applied at submit; a stored sweep stays loadable whatever the caps are now.
        SweepSpecProto.FromProto(Shared.Protos.SweepSpec.Parser.ParseFrom(specProto), new SweepLimits { MaxTrials = int.MaxValue });

    private static long TotalSteps(TrialSpec trial) => trial.Kind switch
    {
        TrialKinds.Sleep => trial.Sleep.Reports,
        TrialKinds.Quadratic => 1,
        _ => trial.Training.Steps,
    };

    private void NotifyTrial(TrialRecord trial)
    {
        if (_watchers.Count == 0) return;
        var summary = trial with { History = [] };
        foreach (var watcher in _watchers) watcher.TrialChanged(summary);
    }

    private void NotifyFinished()
    {
        var sweep = Sweep;
        foreach (var watcher in _watchers) watcher.Finished(sweep);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Sweep {SweepId} ({Name}) submitted, up to {MaxTrials} trials")]
    private static partial void LogSubmitted(ILogger logger, string sweepId, string name, int maxTrials);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Sweep {SweepId} trial {Trial} attempt {Attempt} started on {Workers} (resume: {Checkpoint})")]
    private static partial void LogAttemptStarted(ILogger logger, string sweepId, int trial, int attempt, string workers, string checkpoint);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Sweep {SweepId} trial {Trial} attempt {Attempt} ended {Status}; trial is {TrialStatus} ({Reason})")]
    private static partial void LogAttemptEnded(ILogger logger, string sweepId, int trial, int attempt, AttemptStatus status, TrialStatus trialStatus, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Member {MemberId} lost: {Reason}")]
    private static partial void LogMemberLost(ILogger logger, string memberId, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Sweep {SweepId} finished {Status} {Reason}")]
    private static partial void LogFinished(ILogger logger, string sweepId, SweepStatus status, string reason);
}
