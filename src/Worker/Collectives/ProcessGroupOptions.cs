namespace Orchestrator.Worker.Collectives;

/// <summary>Who this rank is in a group, where its peers are, and the limits it runs under.</summary>
public sealed class ProcessGroupOptions
{
    /// <summary>
    /// 1 MiB, from the allreduce benchmark (4 processes, 64 MB, gRPC on loopback): 256 KiB chunks were no faster,
    /// 4 MiB ones slower (fewer chunks in flight around the ring), and 64 KiB ones slower in-process (per-message cost).
    /// Over the TCP transport 256 KiB and 1 MiB measured alike within the noise of the shared 2-core machine.
    /// </summary>
    public const int DefaultChunkBytes = 1024 * 1024;

    /// <summary>Unique per formation of the group: a group re-formed after a failure gets a new id.</summary>
    public required string GroupId { get; init; }

    public required int Rank { get; init; }

    public required int WorldSize { get; init; }

    /// <summary>Each rank's transport endpoint, by rank; this rank dials only its right-hand neighbour's.</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary>What every rank must agree on before exchanging data (model shapes, bucket layout); compared at setup.</summary>
    public string LayoutFingerprint { get; init; } = "";

    /// <summary>
    /// How long a peer may stay silent, a collective may make no progress, or setup may take, before this rank
    /// fails with a <see cref="CollectiveException"/>.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes per message of a collective; a multiple of 4 (whole floats), the same on every rank.</summary>
    public int ChunkBytes { get; init; } = DefaultChunkBytes;

    /// <summary>
    /// Whether this rank offers to all-reduce through shared memory (<see cref="SharedMemoryAllReduce"/>). The group
    /// does so only when every rank offers and maps rank 0's segment, i.e. all run on one host with one /dev/shm;
    /// otherwise it uses the ring. On by default unless the environment sets <see cref="SharedMemorySwitch"/> to
    /// <c>off</c> (as NCCL_SHM_DISABLE does for NCCL). Broadcasts and barriers always take the ring.
    /// </summary>
    public bool SharedMemory { get; init; } = !string.Equals(Environment.GetEnvironmentVariable(SharedMemorySwitch), "off", StringComparison.OrdinalIgnoreCase);

    /// <summary>The environment variable that turns the shared-memory path off for every group of a process: <c>off</c>.</summary>
    public const string SharedMemorySwitch = "ORCHESTRATOR_COLLECTIVE_SHM";

    /// <summary>Bytes of one rank's shared-memory slot (rank 0's value counts); longer buffers go in pieces.</summary>
    public int SharedMemorySlotBytes { get; init; } = SharedMemoryAllReduce.DefaultSlotBytes;

    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(GroupId);
        ArgumentOutOfRangeException.ThrowIfLessThan(WorldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(Rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(Rank, WorldSize);
        ArgumentNullException.ThrowIfNull(Endpoints);
        ArgumentNullException.ThrowIfNull(LayoutFingerprint);
        if (WorldSize > 1 && Endpoints.Count != WorldSize)
        {
            throw new ArgumentException($"Expected one endpoint per rank ({WorldSize}), got {Endpoints.Count}.", nameof(Endpoints));
        }
        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "The timeout must be positive.");
        }
        if (ChunkBytes < sizeof(float) || ChunkBytes > GrpcTransport.MaxChunkBytes || ChunkBytes % sizeof(float) != 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(ChunkBytes), ChunkBytes, $"Chunks hold whole floats and at most {GrpcTransport.MaxChunkBytes} bytes.");
        }
        if (SharedMemorySlotBytes < 64 || SharedMemorySlotBytes % 64 != 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(SharedMemorySlotBytes), SharedMemorySlotBytes, "Shared-memory slots are a positive multiple of 64 bytes.");
        }
    }
}
