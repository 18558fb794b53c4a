using System.Collections.Immutable;
using Google.Protobuf.WellKnownTypes;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Sweeps;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Api;

/// <summary>Grain records to their wire form and back; the only place both meet.</summary>
internal static class ProtoMapping
{
    public static Proto.SweepSummary ToSummary(SweepRecord s)
    {
        var summary = new Proto.SweepSummary
        {
            SweepId = s.Id,
            Name = s.Name,
            State = ToProto(s.Status),
            CreatedAt = Timestamp.FromDateTime(DateTime.SpecifyKind(s.CreatedAt, DateTimeKind.Utc)),
            TrialsCreated = s.Trials.Count,
            TrialsCompleted = s.Trials.Count(t => t.Status == TrialStatus.Completed),
            TrialsFailed = s.FailedTrials,
            TrialsRunning = s.Trials.Count(t => t.Status == TrialStatus.Running),
            TrialsQueued = s.Trials.Count(t => t.Status == TrialStatus.Queued),
            MaxTrials = s.MaxTrials,
        };
        if (s.BestTrial is { } best) summary.BestTrial = best;
        if (s.BestObjective is { } objective) summary.BestObjective = objective;
        return summary;
    }

    public static Proto.Sweep ToSweep(SweepRecord s)
    {
        var sweep = new Proto.Sweep
        {
            Summary = ToSummary(s),
            Spec = Proto.SweepSpec.Parser.ParseFrom(s.SpecProto),
            Reason = s.Reason ?? "",
        };
        sweep.Trials.AddRange(s.Trials.Select(ToSummary));
        return sweep;
    }

    public static Proto.TrialSummary ToSummary(TrialRecord t)
    {
        var summary = new Proto.TrialSummary
        {
            TrialNumber = t.Number,
            State = ToProto(t.Status),
            Step = t.Step,
            TotalSteps = t.TotalSteps,
            Attempts = t.Attempts.Count,
            Reason = t.Reason ?? "",
        };
        summary.Parameters.Add(t.Parameters);
        summary.LastMetrics.Add(t.LastMetrics);
        if (t.Objective is { } objective) summary.Objective = objective;
        return summary;
    }

    public static Proto.Trial ToTrial(string sweepId, TrialRecord t)
    {
        var trial = new Proto.Trial { SweepId = sweepId, Summary = ToSummary(t), ResumeCheckpoint = t.Checkpoint ?? "" };
        foreach (var a in t.Attempts)
        {
            var attempt = new Proto.Attempt
            {
                AttemptNumber = a.Number,
                State = ToProto(a.Status),
                StartedAt = Timestamp.FromDateTime(DateTime.SpecifyKind(a.StartedAt, DateTimeKind.Utc)),
                Reason = a.Reason ?? "",
                ResumedFrom = a.ResumedFrom ?? "",
            };
            if (a.ResumedFromTrial is { } from) attempt.ResumedFromTrial = from;
            attempt.Workers.AddRange(a.Workers);
            if (a.EndedAt is { } ended) attempt.EndedAt = Timestamp.FromDateTime(DateTime.SpecifyKind(ended, DateTimeKind.Utc));
            trial.Attempts.Add(attempt);
        }
        foreach (var point in t.History)
        {
            var p = new Proto.MetricPoint { Step = point.Step };
            p.Metrics.Add(point.Metrics);
            trial.History.Add(p);
        }
        trial.Artifacts.AddRange(t.Artifacts.Select(a => new Proto.ArtifactInfo { Name = a.Name, Kind = a.Kind, Size = a.Size, Step = a.Step }));
        if (t.CheckpointTrial is { } owner) trial.ResumeCheckpointTrial = owner;
        foreach (var l in t.Lineage)
        {
            var entry = new Proto.LineageEntry
            {
                Step = l.Step,
                SourceTrial = l.SourceTrial,
                SourceCheckpoint = l.SourceCheckpoint,
                SourceCheckpointStep = l.SourceCheckpointStep,
                At = Timestamp.FromDateTime(DateTime.SpecifyKind(l.At, DateTimeKind.Utc)),
            };
            entry.OldParameters.Add(l.OldParameters);
            entry.NewParameters.Add(l.NewParameters);
            trial.Lineage.Add(entry);
        }
        return trial;
    }

    public static Proto.SweepState ToProto(SweepStatus status) => status switch
    {
        SweepStatus.Running => Proto.SweepState.Running,
        SweepStatus.Completed => Proto.SweepState.Completed,
        SweepStatus.Failed => Proto.SweepState.Failed,
        SweepStatus.Canceled => Proto.SweepState.Canceled,
        _ => Proto.SweepState.Unspecified,
    };

    public static Proto.TrialState ToProto(TrialStatus status) => status switch
    {
        TrialStatus.Queued => Proto.TrialState.Queued,
        TrialStatus.Running => Proto.TrialState.Running,
        TrialStatus.Completed => Proto.TrialState.Completed,
        TrialStatus.Failed => Proto.TrialState.Failed,
        TrialStatus.Diverged => Proto.TrialState.Diverged,
        TrialStatus.StoppedEarly => Proto.TrialState.StoppedEarly,
        TrialStatus.Canceled => Proto.TrialState.Canceled,
        _ => Proto.TrialState.Unspecified,
    };

    public static Proto.AttemptState ToProto(AttemptStatus status) => status switch
    {
        AttemptStatus.Running => Proto.AttemptState.Running,
        AttemptStatus.Completed => Proto.AttemptState.Completed,
        AttemptStatus.Failed => Proto.AttemptState.Failed,
        AttemptStatus.Diverged => Proto.AttemptState.Diverged,
        AttemptStatus.Interrupted => Proto.AttemptState.Interrupted,
        AttemptStatus.StoppedEarly => Proto.AttemptState.StoppedEarly,
        AttemptStatus.Canceled => Proto.AttemptState.Canceled,
        _ => Proto.AttemptState.Unspecified,
    };

    /// <summary>A worker's result status; unknown values are the worker's mistake.</summary>
    public static AttemptStatus FromProto(Proto.ResultStatus status) => status switch
    {
        Proto.ResultStatus.Completed => AttemptStatus.Completed,
        Proto.ResultStatus.Diverged => AttemptStatus.Diverged,
        Proto.ResultStatus.Failed => AttemptStatus.Failed,
        Proto.ResultStatus.Interrupted => AttemptStatus.Interrupted,
        Proto.ResultStatus.StoppedEarly => AttemptStatus.StoppedEarly,
        Proto.ResultStatus.Canceled => AttemptStatus.Canceled,
        _ => throw new ArgumentException($"result status {status} is not a final status"),
    };

    public static Proto.Assign ToProto(Assignment a)
    {
        var assign = new Proto.Assign
        {
            AttemptId = a.MemberId,
            SweepId = a.SweepId,
            TrialNumber = a.TrialNumber,
            AttemptNumber = a.AttemptNumber,
            Trial = Proto.TrialSpec.Parser.ParseFrom(a.TrialSpec),
            Rank = a.Rank,
            WorldSize = a.WorldSize,
            GroupId = a.GroupId,
            Devices = a.Devices,
            ResumeArtifact = a.ResumeArtifact ?? "",
            Traceparent = a.TraceParent,
        };
        assign.Parameters.Add(a.Parameters);
        assign.PeerEndpoints.AddRange(a.PeerEndpoints);
        assign.Slot = a.Slot;
        if (a.ResumeTrialNumber is { } owner) assign.ResumeTrialNumber = owner;
        return assign;
    }

    public static ImmutableDictionary<string, double> Metrics(Google.Protobuf.Collections.MapField<string, double> metrics) =>
        metrics.ToImmutableDictionary(StringComparer.Ordinal);
}
