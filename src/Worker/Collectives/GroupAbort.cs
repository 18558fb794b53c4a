namespace Orchestrator.Worker.Collectives;

/// <summary>A rank gave up on the group; forwarded around the ring so every rank names the same culprit.</summary>
/// <param name="FailedRank">The rank held responsible, -1 when no single rank is (a setup mismatch).</param>
/// <param name="Sequence">The collective the reporter was in.</param>
/// <param name="ReporterRank">The rank that detected the failure.</param>
public sealed record GroupAbort(int FailedRank, long Sequence, string Reason, int ReporterRank);
