namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Broadcast along the ring from a root: each rank forwards a chunk to its right-hand neighbour as soon as it has
/// it, so the chunks travel in a pipeline and the time is about (chunks + ranks - 2) chunk transfers.
/// </summary>
public sealed class RingBroadcast
{
    private readonly IRingExchange _ring;
    private readonly int _chunkBytes;

    public RingBroadcast(IRingExchange ring, int chunkBytes)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        _ring = ring;
        _chunkBytes = chunkBytes;
    }

    /// <param name="sequence">The collective's sequence number; every rank passes the same one.</param>
    public async Task RunAsync(Memory<byte> buffer, int root, long sequence, CancellationToken cancellationToken)
    {
        int n = _ring.WorldSize;
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, n);
        if (n == 1)
        {
            return;
        }
        // At least one chunk, so ranks that disagree on the length or the root fail instead of waiting.
        int chunks = Math.Max(1, (int)(((long)buffer.Length + _chunkBytes - 1) / _chunkBytes));
        if (_ring.Rank == root)
        {
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                await _ring.SendAsync(Header(chunk), Slice(buffer, chunk), cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        bool forward = (_ring.Rank + 1) % n != root;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            Memory<byte> target = Slice(buffer, chunk);
            PeerFrame received = await _ring.ReceiveAsync(Header(chunk), target.Length, cancellationToken)
                .ConfigureAwait(false);
            try
            {
                // Forward straight from the received payload and copy into place while the send is under way.
                ValueTask sent = forward ? _ring.SendAsync(Header(chunk), received.Payload, cancellationToken) : default;
                received.Payload.CopyTo(target);
                await sent.ConfigureAwait(false);
            }
            finally
            {
                received.Release();
            }
        }

        ChunkHeader Header(int index) => new(sequence, index, CollectiveKind.Broadcast, buffer.Length, root);
    }

    private Memory<byte> Slice(Memory<byte> buffer, int chunk)
    {
        int start = (int)Math.Min((long)chunk * _chunkBytes, buffer.Length);
        int end = (int)Math.Min((long)(chunk + 1) * _chunkBytes, buffer.Length);
        return buffer[start..end];
    }
}
