using Google.Protobuf;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Worker.Collectives;

/// <summary>Converts frames to and from the wire messages of collective.proto; proto types stay at this boundary.</summary>
internal static class PeerMessages
{
    public static Proto.PeerMessage ToMessage(in PeerFrame frame) => frame.Kind switch
    {
        PeerFrameKind.Chunk => new Proto.PeerMessage
        {
            Chunk = new Proto.CollectiveChunk
            {
                Sequence = frame.Chunk.Sequence,
                Index = frame.Chunk.Index,
                Kind = (Proto.CollectiveKind)(int)frame.Chunk.Kind,
                TotalBytes = frame.Chunk.TotalBytes,
                Root = frame.Chunk.Root,
                // No copy: the message is serialized before SendAsync completes, and callers keep the buffer unchanged until then.
                Payload = UnsafeByteOperations.UnsafeWrap(frame.Payload),
            },
        },
        PeerFrameKind.Heartbeat => new Proto.PeerMessage
        {
            Heartbeat = new Proto.PeerHeartbeat
            {
                EnteredSequence = frame.Status!.EnteredSequence,
                ActiveSequence = frame.Status.ActiveSequence,
                BlockerRank = frame.Status.BlockerRank,
            },
        },
        PeerFrameKind.Handshake => new Proto.PeerMessage
        {
            Handshake = new Proto.PeerHandshake
            {
                GroupId = frame.Handshake!.GroupId,
                WorldSize = frame.Handshake.WorldSize,
                Rank = frame.Handshake.Rank,
                ReceiverRank = frame.Handshake.ReceiverRank,
                LayoutFingerprint = frame.Handshake.LayoutFingerprint,
                ChunkBytes = frame.Handshake.ChunkBytes,
            },
        },
        PeerFrameKind.Accepted => new Proto.PeerMessage { Accepted = new Proto.HandshakeAccepted() },
        PeerFrameKind.Abort => new Proto.PeerMessage
        {
            Abort = new Proto.PeerAbort
            {
                FailedRank = frame.Abort!.FailedRank,
                Sequence = frame.Abort.Sequence,
                Reason = frame.Abort.Reason,
                ReporterRank = frame.Abort.ReporterRank,
            },
        },
        PeerFrameKind.Goodbye => new Proto.PeerMessage
        {
            Goodbye = new Proto.PeerGoodbye { CompletedSequence = frame.CompletedSequence },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(frame), frame.Kind, "Unknown frame kind."),
    };

    /// <exception cref="InvalidDataException">The message is empty or carries an unknown collective kind.</exception>
    public static PeerFrame ToFrame(Proto.PeerMessage message)
    {
        switch (message.BodyCase)
        {
            case Proto.PeerMessage.BodyOneofCase.Chunk:
                var chunk = message.Chunk;
                if (chunk.Kind is < Proto.CollectiveKind.AllReduceSum or > Proto.CollectiveKind.Barrier)
                {
                    throw new InvalidDataException($"Chunk of unknown collective kind {chunk.Kind}.");
                }
                // The parsed ByteString owns its array; reading it through Memory avoids a second copy.
                return PeerFrame.ForChunk(
                    new ChunkHeader(chunk.Sequence, chunk.Index, (CollectiveKind)(int)chunk.Kind, chunk.TotalBytes, chunk.Root),
                    chunk.Payload.Memory);
            case Proto.PeerMessage.BodyOneofCase.Heartbeat:
                var beat = message.Heartbeat;
                return PeerFrame.ForHeartbeat(new PeerStatus(beat.EnteredSequence, beat.ActiveSequence, beat.BlockerRank));
            case Proto.PeerMessage.BodyOneofCase.Handshake:
                return PeerFrame.ForHandshake(ToHandshake(message.Handshake));
            case Proto.PeerMessage.BodyOneofCase.Accepted:
                return PeerFrame.Accepted;
            case Proto.PeerMessage.BodyOneofCase.Abort:
                var abort = message.Abort;
                return PeerFrame.ForAbort(new GroupAbort(abort.FailedRank, abort.Sequence, abort.Reason, abort.ReporterRank));
            case Proto.PeerMessage.BodyOneofCase.Goodbye:
                return PeerFrame.ForGoodbye(message.Goodbye.CompletedSequence);
            default:
                throw new InvalidDataException("Empty peer message.");
        }
    }

    public static GroupHandshake ToHandshake(Proto.PeerHandshake handshake) => new(
        handshake.GroupId,
        handshake.WorldSize,
        handshake.Rank,
        handshake.ReceiverRank,
        handshake.LayoutFingerprint,
        handshake.ChunkBytes);
}
