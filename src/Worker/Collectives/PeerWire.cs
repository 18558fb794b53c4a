using System.Buffers;
using Grpc.Core;
using Google.Protobuf;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// CollectivePeer.Exchange with frames as its message type: the same method and bytes as collective.proto, but a
/// chunk's payload is parsed straight into a pooled array. The generated marshaller allocates a fresh array per
/// chunk (a large-object-heap allocation at 1 MiB, zeroed on fresh pages), which profiling of the allreduce
/// benchmark showed as a leading cost after the copies themselves.
/// </summary>
internal static class PeerWire
{
    // PeerMessage.chunk is field 3, length-delimited: (3 << 3) | 2.
    private const byte ChunkTag = 0x1A;

    private static readonly Marshaller<PeerEnvelope> FrameMarshaller = Marshallers.Create<PeerEnvelope>(Serialize, Deserialize);

    public static readonly Method<PeerEnvelope, PeerEnvelope> Exchange = new(
        MethodType.DuplexStreaming,
        Proto.CollectivePeer.Descriptor.FullName,
        Proto.CollectivePeer.Descriptor.FindMethodByName("Exchange").Name,
        FrameMarshaller,
        FrameMarshaller);

    private static void Serialize(PeerEnvelope envelope, SerializationContext context)
    {
        var message = PeerMessages.ToMessage(envelope.Frame);
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }

    private static PeerEnvelope Deserialize(DeserializationContext context)
    {
        var payload = context.PayloadAsReadOnlySequence();
        return new PeerEnvelope(
            TryReadChunk(payload, out var frame) ? frame : PeerMessages.ToFrame(Proto.PeerMessage.Parser.ParseFrom(payload)));
    }

    /// <summary>Reads a chunk message as this module writes it; anything else (or unknown fields) goes to the generic parser.</summary>
    private static bool TryReadChunk(ReadOnlySequence<byte> message, out PeerFrame frame)
    {
        frame = default;
        var reader = new SequenceReader<byte>(message);
        if (!reader.TryPeek(out byte tag) || tag != ChunkTag)
        {
            return false;
        }
        reader.Advance(1);
        if (ReadVarint(ref reader) != (ulong)reader.Remaining)
        {
            return false;
        }
        long sequence = 0;
        long totalBytes = 0;
        int index = 0;
        int kind = 0;
        int root = 0;
        byte[]? pooled = null;
        int length = 0;
        while (!reader.End)
        {
            ulong key = ReadVarint(ref reader);
            switch (key)
            {
                case (1 << 3) | 0:
                    sequence = (long)ReadVarint(ref reader);
                    break;
                case (2 << 3) | 0:
                    index = (int)ReadVarint(ref reader);
                    break;
                case (3 << 3) | 0:
                    kind = (int)ReadVarint(ref reader);
                    break;
                case (4 << 3) | 0:
                    totalBytes = (long)ReadVarint(ref reader);
                    break;
                case (5 << 3) | 0:
                    root = (int)ReadVarint(ref reader);
                    break;
                case (6 << 3) | 2 when pooled is null:
                    ulong size = ReadVarint(ref reader);
                    if (size > (ulong)reader.Remaining)
                    {
                        throw new InvalidDataException("Chunk payload runs past the end of its message.");
                    }
                    length = (int)size;
                    pooled = ArrayPool<byte>.Shared.Rent(length);
                    reader.UnreadSequence.Slice(0, length).CopyTo(pooled);
                    reader.Advance(length);
                    break;
                default:
                    if (pooled is not null)
                    {
                        ArrayPool<byte>.Shared.Return(pooled);
                    }
                    return false;
            }
        }
        if (kind is < (int)CollectiveKind.AllReduceSum or > (int)CollectiveKind.Barrier)
        {
            if (pooled is not null)
            {
                ArrayPool<byte>.Shared.Return(pooled);
            }
            throw new InvalidDataException($"Chunk of unknown collective kind {kind}.");
        }
        var header = new ChunkHeader(sequence, index, (CollectiveKind)kind, totalBytes, root);
        frame = pooled is null ? PeerFrame.ForChunk(header, ReadOnlyMemory<byte>.Empty) : PeerFrame.ForPooledChunk(header, pooled, length);
        return true;
    }

    private static ulong ReadVarint(ref SequenceReader<byte> reader)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out byte next))
            {
                throw new InvalidDataException("Truncated varint in a peer message.");
            }
            value |= (ulong)(next & 0x7F) << shift;
            if (next < 0x80)
            {
                return value;
            }
        }
        throw new InvalidDataException("Malformed varint in a peer message.");
    }
}

/// <summary>gRPC's message types must be classes; this carries a frame through it.</summary>
internal sealed class PeerEnvelope(PeerFrame frame)
{
    public PeerFrame Frame { get; } = frame;
}
