namespace Orchestrator.Coordinator.Scheduling;

/// <summary>
/// A trial attempt waiting for a gang: <see cref="Workers"/> slots on as many distinct workers, each with at least
/// <see cref="Devices"/> devices. <see cref="Key"/> identifies the trial (one request per trial at a time).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record GangRequest
{
    [Id(0)] public required string SweepId { get; init; }
    [Id(1)] public required int TrialNumber { get; init; }
    [Id(2)] public required int AttemptNumber { get; init; }
    [Id(3)] public required int Workers { get; init; }
    [Id(4)] public required int Devices { get; init; }

    public string Key => $"{SweepId}:{TrialNumber}";

    /// <summary>The id of the member with <paramref name="rank"/> of this attempt (see <see cref="MemberIds"/>).</summary>
    public string MemberId(int rank) => MemberIds.Format(SweepId, TrialNumber, AttemptNumber, rank);
}
