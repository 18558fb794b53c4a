namespace Orchestrator.Worker.Collectives;

/// <summary>What a <see cref="PeerFrame"/> carries.</summary>
public enum PeerFrameKind
{
    Handshake,
    Accepted,
    Chunk,
    Heartbeat,
    Abort,
    Goodbye,
}
