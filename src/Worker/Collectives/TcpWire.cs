using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// The framing of <see cref="TcpTransport"/> links. Each end first sends <see cref="Preamble"/>; then every frame is
/// a fixed little-endian header of <see cref="HeaderBytes"/> followed by its body:
/// <code>
///  0 int32  body length
///  4 uint8  frame type (TcpFrameType)
///  5 uint8  collective kind (chunks)
///  6 uint16 reserved, 0
///  8 int64  sequence (chunks)
/// 16 int64  total bytes (chunks)
/// 24 int32  index (chunks)
/// 28 int32  root (chunks)
/// </code>
/// A chunk's body is its raw payload, read straight into a pooled array: no parsing and no per-chunk allocation.
/// Control frames (handshake, accepted, heartbeat, abort, goodbye) are rare, so their body is the same PeerMessage
/// that collective.proto defines for gRPC: one set of message semantics for both transports.
/// </summary>
internal static class TcpWire
{
    public const int HeaderBytes = 32;

    /// <summary>Largest chunk payload; the same bound as gRPC's, which <see cref="ProcessGroupOptions"/> enforces.</summary>
    public const int MaxChunkBytes = GrpcTransport.MaxChunkBytes;

    // Fingerprints list every parameter shape; a few MiB is far beyond any real one and still bounds a bad peer.
    public const int MaxControlBytes = 4 * 1024 * 1024;

    /// <summary>"ORCRING" and a version byte: a peer that speaks something else (a gRPC port) fails at once, with a clear message.</summary>
    public static ReadOnlySpan<byte> Preamble => "ORCRING\u0001"u8;

    public static void WriteChunkHeader(Span<byte> header, in ChunkHeader chunk, int payloadBytes)
    {
        BinaryPrimitives.WriteInt32LittleEndian(header, payloadBytes);
        header[4] = (byte)TcpFrameType.Chunk;
        header[5] = (byte)chunk.Kind;
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], chunk.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], chunk.TotalBytes);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], chunk.Index);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], chunk.Root);
    }

    public static void WriteHeader(Span<byte> header, TcpFrameType type, int bodyBytes)
    {
        header[..HeaderBytes].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(header, bodyBytes);
        header[4] = (byte)type;
    }

    /// <exception cref="InvalidDataException">The header is not one this module writes.</exception>
    public static TcpFrameHeader ReadHeader(ReadOnlySpan<byte> header)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        var type = (TcpFrameType)header[4];
        switch (type)
        {
            case TcpFrameType.Chunk:
                if (length is < 0 or > MaxChunkBytes)
                {
                    throw new InvalidDataException($"Chunk of {length} bytes (at most {MaxChunkBytes}).");
                }
                var kind = (CollectiveKind)header[5];
                if (kind is < CollectiveKind.AllReduceSum or > CollectiveKind.Barrier)
                {
                    throw new InvalidDataException($"Chunk of unknown collective kind {header[5]}.");
                }
                var chunk = new ChunkHeader(
                    BinaryPrimitives.ReadInt64LittleEndian(header[8..]),
                    BinaryPrimitives.ReadInt32LittleEndian(header[24..]),
                    kind,
                    BinaryPrimitives.ReadInt64LittleEndian(header[16..]),
                    BinaryPrimitives.ReadInt32LittleEndian(header[28..]));
                return new TcpFrameHeader(type, length, chunk);
            case TcpFrameType.Control:
            case TcpFrameType.Refused:
            case TcpFrameType.Rejected:
                if (length is < 0 or > MaxControlBytes)
                {
                    throw new InvalidDataException($"Control frame of {length} bytes (at most {MaxControlBytes}).");
                }
                return new TcpFrameHeader(type, length, default);
            default:
                throw new InvalidDataException($"Unknown frame type {header[4]}.");
        }
    }

    public static byte[] EncodeControl(in PeerFrame frame) => PeerMessages.ToMessage(frame).ToByteArray();

    /// <exception cref="InvalidDataException">The body is not a control message.</exception>
    public static PeerFrame DecodeControl(ReadOnlySpan<byte> body)
    {
        Proto.PeerMessage message;
        try
        {
            message = Proto.PeerMessage.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"Malformed control frame: {e.Message}", e);
        }
        if (message.BodyCase == Proto.PeerMessage.BodyOneofCase.Chunk)
        {
            throw new InvalidDataException("A chunk arrived as a control frame.");
        }
        return PeerMessages.ToFrame(message);
    }

    public static byte[] EncodeReason(string reason) => Encoding.UTF8.GetBytes(reason);

    public static string DecodeReason(ReadOnlySpan<byte> body) => Encoding.UTF8.GetString(body);
}

/// <summary>What a <see cref="TcpWire"/> frame carries.</summary>
internal enum TcpFrameType : byte
{
    Chunk = 1,
    /// <summary>A PeerMessage other than a chunk.</summary>
    Control = 2,
    /// <summary>The accepting transport does not host the group (yet): the dialler retries. Body: the reason, UTF-8.</summary>
    Refused = 3,
    /// <summary>The accepting transport gave up on the group or already has its neighbour: retrying cannot help.</summary>
    Rejected = 4,
}

internal readonly record struct TcpFrameHeader(TcpFrameType Type, int BodyBytes, ChunkHeader Chunk);
