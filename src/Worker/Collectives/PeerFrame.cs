using System.Buffers;

namespace Orchestrator.Worker.Collectives;

/// <summary>One message on a peer link: a chunk of a collective or a control message.</summary>
public readonly struct PeerFrame
{
    // Set when the payload lives in a rented array: Release gives it back to _pool (null: the shared pool).
    private readonly byte[]? _pooled;
    private readonly ArrayPool<byte>? _pool;

    private PeerFrame(
        PeerFrameKind kind,
        GroupHandshake? handshake = null,
        ChunkHeader chunk = default,
        ReadOnlyMemory<byte> payload = default,
        PeerStatus? status = null,
        GroupAbort? abort = null,
        long completedSequence = 0,
        byte[]? pooled = null,
        ArrayPool<byte>? pool = null)
    {
        Kind = kind;
        Handshake = handshake;
        Chunk = chunk;
        Payload = payload;
        Status = status;
        Abort = abort;
        CompletedSequence = completedSequence;
        _pooled = pooled;
        _pool = pool;
    }

    public PeerFrameKind Kind { get; }

    /// <summary>Set for <see cref="PeerFrameKind.Handshake"/>.</summary>
    public GroupHandshake? Handshake { get; }

    /// <summary>Set for <see cref="PeerFrameKind.Chunk"/>.</summary>
    public ChunkHeader Chunk { get; }

    /// <summary>The chunk's bytes; valid until <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Set for <see cref="PeerFrameKind.Heartbeat"/>.</summary>
    public PeerStatus? Status { get; }

    /// <summary>Set for <see cref="PeerFrameKind.Abort"/>.</summary>
    public GroupAbort? Abort { get; }

    /// <summary>For <see cref="PeerFrameKind.Goodbye"/>: the last collective the sender completed.</summary>
    public long CompletedSequence { get; }

    public static PeerFrame Accepted { get; } = new(PeerFrameKind.Accepted);

    public static PeerFrame ForHandshake(GroupHandshake handshake) => new(PeerFrameKind.Handshake, handshake: handshake);

    /// <summary>A chunk over <paramref name="payload"/>, which must stay unchanged until the send completes.</summary>
    public static PeerFrame ForChunk(ChunkHeader header, ReadOnlyMemory<byte> payload) =>
        new(PeerFrameKind.Chunk, chunk: header, payload: payload);

    public static PeerFrame ForHeartbeat(PeerStatus status) => new(PeerFrameKind.Heartbeat, status: status);

    public static PeerFrame ForAbort(GroupAbort abort) => new(PeerFrameKind.Abort, abort: abort);

    public static PeerFrame ForGoodbye(long completedSequence) =>
        new(PeerFrameKind.Goodbye, completedSequence: completedSequence);

    /// <summary>
    /// A chunk whose payload is the first <paramref name="length"/> bytes of an array rented from
    /// <paramref name="pool"/> (null: the shared pool).
    /// </summary>
    internal static PeerFrame ForPooledChunk(ChunkHeader header, byte[] pooled, int length, ArrayPool<byte>? pool = null) =>
        new(PeerFrameKind.Chunk, chunk: header, payload: pooled.AsMemory(0, length), pooled: pooled, pool: pool);

    /// <summary>Gives a pooled payload back; call exactly once per received chunk, after its last use.</summary>
    public void Release()
    {
        if (_pooled is not null)
        {
            (_pool ?? ArrayPool<byte>.Shared).Return(_pooled);
        }
    }
}
