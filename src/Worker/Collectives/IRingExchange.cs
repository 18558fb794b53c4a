namespace Orchestrator.Worker.Collectives;

/// <summary>What the ring algorithms need from a group: chunks to the right-hand neighbour, chunks from the left-hand one.</summary>
public interface IRingExchange
{
    int Rank { get; }

    int WorldSize { get; }

    /// <summary>Sends a chunk to rank + 1; the payload is not read after the returned task completes.</summary>
    ValueTask SendAsync(ChunkHeader header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>The next chunk from rank - 1, checked against the header and length this rank expects; release it after use.</summary>
    /// <exception cref="CollectiveException">The chunk is not the expected one, or the group failed.</exception>
    ValueTask<PeerFrame> ReceiveAsync(ChunkHeader expected, int expectedBytes, CancellationToken cancellationToken);
}
