namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Barrier on the ring: n - 1 empty tokens, each forwarded only after the previous one arrived, so the k-th token a
/// rank receives proves that its k nearest left-hand ranks have entered; after n - 1 of them, all have.
/// </summary>
public sealed class RingBarrier
{
    private readonly IRingExchange _ring;

    public RingBarrier(IRingExchange ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        _ring = ring;
    }

    /// <param name="sequence">The collective's sequence number; every rank passes the same one.</param>
    public async Task RunAsync(long sequence, CancellationToken cancellationToken)
    {
        int steps = _ring.WorldSize - 1;
        if (steps == 0)
        {
            return;
        }
        await _ring.SendAsync(Header(0), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        for (int step = 0; step < steps; step++)
        {
            PeerFrame token = await _ring.ReceiveAsync(Header(step), 0, cancellationToken).ConfigureAwait(false);
            token.Release();
            if (step + 1 < steps)
            {
                await _ring.SendAsync(Header(step + 1), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            }
        }

        ChunkHeader Header(int index) => new(sequence, index, CollectiveKind.Barrier, 0, 0);
    }
}
