namespace Orchestrator.Worker.Collectives;

/// <summary>What a rank says about itself and its group when it connects to its right-hand neighbour.</summary>
/// <param name="GroupId">Unique per formation of a group, so a re-formed group never talks to a stale peer.</param>
/// <param name="ReceiverRank">The rank the sender believes it dialled: catches endpoint lists that disagree.</param>
/// <param name="LayoutFingerprint">Caller-supplied digest of what all ranks must agree on (shapes, buckets).</param>
/// <param name="ChunkBytes">Chunk boundaries derive from it, so all ranks must use the same value.</param>
public sealed record GroupHandshake(
    string GroupId, int WorldSize, int Rank, int ReceiverRank, string LayoutFingerprint, int ChunkBytes);
