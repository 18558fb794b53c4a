using System.Collections.Immutable;
using Orchestrator.Coordinator.Sweeps;

namespace Orchestrator.Coordinator.Grains;

/// <summary>A sweep as the coordinator keeps it: its spec (wire form), its trials and its counters.</summary>
[GenerateSerializer, Immutable]
public sealed record SweepRecord
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Name { get; init; }
    [Id(2)] public SweepStatus Status { get; init; }
    [Id(3)] public DateTime CreatedAt { get; init; }
    /// <summary>The normalised spec as a serialized orchestrator.v1.SweepSpec: compared byte for byte on resubmission.</summary>
    [Id(4)] public required byte[] SpecProto { get; init; }
    /// <summary>Indexed by trial number.</summary>
    [Id(5)] public ImmutableList<TrialRecord> Trials { get; init; } = [];
    [Id(6)] public bool SearchExhausted { get; init; }
    [Id(7)] public int FailedTrials { get; init; }
    [Id(8)] public int? BestTrial { get; init; }
    [Id(9)] public double? BestObjective { get; init; }
    [Id(10)] public string? Reason { get; init; }
    [Id(11)] public int MaxTrials { get; init; }
    /// <summary>W3C traceparent of the sweep's span: trials and attempts are its children, across restarts too.</summary>
    [Id(12)] public string? TraceParent { get; init; }

    public int Active => Trials.Count(t => t.Status is TrialStatus.Queued or TrialStatus.Running);
}

/// <summary>One trial: its configuration, attempts, metrics and artifacts.</summary>
[GenerateSerializer, Immutable]
public sealed record TrialRecord
{
    [Id(0)] public int Number { get; init; }
    [Id(1)] public TrialStatus Status { get; init; }
    /// <summary>Parameter name → YAML scalar applied to the template.</summary>
    [Id(2)] public ImmutableDictionary<string, string> Parameters { get; init; } = ImmutableDictionary<string, string>.Empty;
    [Id(3)] public ImmutableList<AttemptRecord> Attempts { get; init; } = [];
    [Id(4)] public long Step { get; init; }
    [Id(5)] public long TotalSteps { get; init; }
    [Id(6)] public ImmutableDictionary<string, double> LastMetrics { get; init; } = ImmutableDictionary<string, double>.Empty;
    [Id(7)] public ImmutableList<MetricPoint> History { get; init; } = [];
    [Id(8)] public double? Objective { get; init; }
    [Id(9)] public string? Reason { get; init; }
    /// <summary>Newest uploaded checkpoint: what a retry resumes from.</summary>
    [Id(10)] public string? Checkpoint { get; init; }
    [Id(11)] public long CheckpointStep { get; init; }
    [Id(12)] public ImmutableList<ArtifactRecord> Artifacts { get; init; } = [];
    /// <summary>W3C trace id shared by every attempt of the trial.</summary>
    [Id(13)] public string TraceId { get; init; } = "";
    /// <summary>The trial <see cref="Checkpoint"/> belongs to when it is not this one's (PBT copied it).</summary>
    [Id(14)] public int? CheckpointTrial { get; init; }
    /// <summary>
    /// The first attempt after the trial's latest PBT exploit: checkpoints of earlier attempts hold the weights it
    /// dropped, so they are neither resumed from nor copied.
    /// </summary>
    [Id(15)] public int LifeStartAttempt { get; init; }
    /// <summary>PBT: every exploit of this trial, oldest first.</summary>
    [Id(16)] public ImmutableList<LineageRecord> Lineage { get; init; } = [];
}

/// <summary>One PBT exploit: at <see cref="Step"/> the trial copied <see cref="SourceTrial"/>'s checkpoint and changed its parameters.</summary>
[GenerateSerializer, Immutable]
public sealed record LineageRecord
{
    [Id(0)] public long Step { get; init; }
    [Id(1)] public int SourceTrial { get; init; }
    [Id(2)] public required string SourceCheckpoint { get; init; }
    [Id(3)] public long SourceCheckpointStep { get; init; }
    [Id(4)] public ImmutableDictionary<string, string> OldParameters { get; init; } = ImmutableDictionary<string, string>.Empty;
    [Id(5)] public ImmutableDictionary<string, string> NewParameters { get; init; } = ImmutableDictionary<string, string>.Empty;
    [Id(6)] public DateTime At { get; init; }
}

/// <summary>One attempt: a gang of members (one per rank), each on its own worker.</summary>
[GenerateSerializer, Immutable]
public sealed record AttemptRecord
{
    [Id(0)] public int Number { get; init; }
    [Id(1)] public AttemptStatus Status { get; init; }
    /// <summary>Worker ids by rank.</summary>
    [Id(2)] public ImmutableArray<string> Workers { get; init; } = [];
    /// <summary>Whether each member (by rank) has reported its result or was lost: until then it holds its slot.</summary>
    [Id(3)] public ImmutableArray<bool> MembersDone { get; init; } = [];
    [Id(4)] public DateTime StartedAt { get; init; }
    [Id(5)] public DateTime? EndedAt { get; init; }
    [Id(6)] public string? Reason { get; init; }
    [Id(7)] public string? ResumedFrom { get; init; }
    /// <summary>The trial <see cref="ResumedFrom"/> belongs to when it is not this one's (PBT exploit).</summary>
    [Id(8)] public int? ResumedFromTrial { get; init; }
}

/// <summary>Metrics a trial reported at a step.</summary>
[GenerateSerializer, Immutable]
public sealed record MetricPoint
{
    [Id(0)] public long Step { get; init; }
    [Id(1)] public ImmutableDictionary<string, double> Metrics { get; init; } = ImmutableDictionary<string, double>.Empty;
}

/// <summary>An artifact uploaded for a trial.</summary>
[GenerateSerializer, Immutable]
public sealed record ArtifactRecord
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public required string Kind { get; init; }
    [Id(2)] public long Size { get; init; }
    [Id(3)] public long Step { get; init; }
    /// <summary>The attempt that uploaded it.</summary>
    [Id(4)] public int Attempt { get; init; }
}

/// <summary>How a member's attempt ended, as its worker reported it.</summary>
[GenerateSerializer, Immutable]
public sealed record MemberResult
{
    [Id(0)] public AttemptStatus Status { get; init; }
    [Id(1)] public ImmutableDictionary<string, double> FinalMetrics { get; init; } = ImmutableDictionary<string, double>.Empty;
    [Id(2)] public string? Reason { get; init; }
    [Id(3)] public long Step { get; init; }
}

/// <summary>What a worker said about itself in its hello.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerRegistration
{
    [Id(0)] public required string WorkerId { get; init; }
    [Id(1)] public int Slots { get; init; }
    [Id(2)] public int Devices { get; init; }
    [Id(3)] public required string Endpoint { get; init; }
    [Id(4)] public string Description { get; init; } = "";
}

/// <summary>The coordinator's answer to a hello: how often to heartbeat and how long the lease lasts.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerWelcome
{
    [Id(0)] public int HeartbeatIntervalMs { get; init; }
    [Id(1)] public int LeaseMs { get; init; }
}

/// <summary>One member of a trial attempt, to run on <see cref="WorkerId"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record Assignment
{
    [Id(0)] public required string MemberId { get; init; }
    [Id(1)] public required string WorkerId { get; init; }
    [Id(2)] public required string SweepId { get; init; }
    [Id(3)] public int TrialNumber { get; init; }
    [Id(4)] public int AttemptNumber { get; init; }
    [Id(5)] public int Rank { get; init; }
    [Id(6)] public int WorldSize { get; init; }
    [Id(7)] public ImmutableArray<string> PeerEndpoints { get; init; } = [];
    [Id(8)] public required string GroupId { get; init; }
    [Id(9)] public int Devices { get; init; }
    [Id(10)] public string? ResumeArtifact { get; init; }
    [Id(11)] public string TraceParent { get; init; } = "";
    /// <summary>
    /// The configured trial as a serialized orchestrator.v1.TrialSpec: the worker's wire form, carried as bytes so
    /// that the grain layer holds no generated types and the trial is converted once, where it was validated.
    /// </summary>
    [Id(12)] public required byte[] TrialSpec { get; init; }
    [Id(13)] public ImmutableDictionary<string, string> Parameters { get; init; } = ImmutableDictionary<string, string>.Empty;
    /// <summary>The worker slot it runs in (its collective port is the worker's plus this).</summary>
    [Id(14)] public int Slot { get; init; }
    /// <summary>The trial <see cref="ResumeArtifact"/> belongs to when it is another one's (PBT exploit).</summary>
    [Id(15)] public int? ResumeTrialNumber { get; init; }
}

/// <summary>Result of reserving a sweep id for a submission.</summary>
[GenerateSerializer, Immutable]
public sealed record SweepReservation
{
    [Id(0)] public required string SweepId { get; init; }
    [Id(1)] public bool Created { get; init; }
}
