namespace Orchestrator.Worker.Collectives;

/// <summary>A link a peer opened to this rank, with the handshake it sent (not yet validated).</summary>
public sealed record AcceptedPeer(IPeerLink Link, GroupHandshake Handshake);
