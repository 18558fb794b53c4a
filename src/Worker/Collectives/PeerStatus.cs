namespace Orchestrator.Worker.Collectives;

/// <summary>Where a rank stands, sent with every heartbeat so a stuck ring can name the rank holding it up.</summary>
/// <param name="EnteredSequence">Highest collective sequence number the rank has started.</param>
/// <param name="ActiveSequence">The collective in progress on the rank, -1 when idle.</param>
/// <param name="BlockerRank">The rank it waits for in that collective, -1 when it knows of none.</param>
public sealed record PeerStatus(long EnteredSequence, long ActiveSequence, int BlockerRank);
