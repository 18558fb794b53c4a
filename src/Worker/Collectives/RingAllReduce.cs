using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// In-place ring all-reduce of a float buffer: reduce-scatter then all-gather, 2(n-1) steps, each step split into
/// chunks and pipelined so that a chunk is sent on as soon as it has been reduced, while later chunks still arrive.
/// </summary>
/// <remarks>
/// Step g (0-based, over both phases) sends segment (rank - g) mod n and receives segment (rank - g - 1) mod n, so
/// the chunk received at step g is the one sent at step g + 1. Segment s is summed in ring order starting at its
/// owner: x[s] + x[s+1] + ... + x[s-1] (indices mod n), each partial sum rounded to float, and the rank that adds
/// the last term divides by n for an average before the all-gather copies the result out; every rank therefore
/// ends with bit-identical values, and the result is reproducible for a given world size.
/// </remarks>
public sealed class RingAllReduce
{
    private readonly IRingExchange _ring;
    private readonly int _chunkElements;

    public RingAllReduce(IRingExchange ring, int chunkBytes)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, sizeof(float));
        _ring = ring;
        _chunkElements = chunkBytes / sizeof(float);
    }

    /// <param name="sequence">The collective's sequence number; every rank passes the same one.</param>
    public async Task RunAsync(Memory<float> buffer, ReduceOp op, long sequence, CancellationToken cancellationToken)
    {
        int n = _ring.WorldSize;
        if (n == 1)
        {
            // Sum and average of one buffer are the buffer itself (x / 1 == x exactly).
            return;
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buffer.Length, int.MaxValue / sizeof(float), nameof(buffer));

        var plan = new Plan(
            new RingLayout(buffer.Length, n, _chunkElements),
            op == ReduceOp.Sum ? CollectiveKind.AllReduceSum : CollectiveKind.AllReduceAverage,
            sequence,
            (long)buffer.Length * sizeof(float));
        using var bytes = new FloatByteMemory(buffer);
        // Chunks are applied as they come off the socket where the transport can (TCP): all-gather chunks read
        // straight into place (one copy fewer per byte), reduce-scatter chunks added in cache-sized pieces (no
        // pooled payload that has gone cold by the time the ring gets to it). A placed read of a failed
        // collective ends when the group's teardown closes the link, so this scope's disposal, which waits for
        // it, is bounded by the group's timeout.
        await using var placement = _ring is IChunkPlacementHost host
            ? host.Place(new RingPlacement(plan, _ring.Rank, n, op, bytes.Memory))
            : null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task own = SendOwnSegmentAsync(plan, bytes.Memory, stop.Token);
        Task rest = ReceiveAndForwardAsync(plan, buffer, bytes.Memory, op, own, stop.Token);
        await PairedLoops.WhenBothAsync(own, rest, stop).ConfigureAwait(false);
    }

    /// <summary>Step 0: this rank's own segment, every chunk at once; nothing to wait for.</summary>
    private async Task SendOwnSegmentAsync(Plan plan, Memory<byte> bytes, CancellationToken cancellationToken)
    {
        for (int chunk = 0; chunk < plan.Layout.ChunksPerSegment; chunk++)
        {
            var (offset, count) = plan.Layout.Chunk(_ring.Rank, chunk);
            await _ring.SendAsync(plan.Header(chunk), bytes.Slice(offset * sizeof(float), count * sizeof(float)), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every later step: receives a chunk, reduces (or, in the all-gather, copies) it into place, and forwards it,
    /// since the chunk received at step g is the one sent at step g + 1.
    /// </summary>
    /// <remarks>
    /// One forward is in flight while the next chunk is received and reduced: the same overlap as a separate send
    /// loop signalled per chunk (what this replaced), without its semaphore wait, whose continuation cost a
    /// thread-pool hop and an allocation per chunk. Sends still go out in frame order: the forwards follow the
    /// receives' order, and the first waits for step 0. A region is never written while a send of it is in flight:
    /// a segment received at step g is sent at g + 1 and received (written) next at step g + n, after that send was
    /// awaited; this rank's own segment, sent at step 0, is first written at step n - 1.
    /// </remarks>
    private async Task ReceiveAndForwardAsync(
        Plan plan, Memory<float> buffer, Memory<byte> bytes, ReduceOp op, Task ownSent, CancellationToken cancellationToken)
    {
        int n = _ring.WorldSize;
        int chunks = plan.Layout.ChunksPerSegment;
        int frames = 2 * (n - 1) * chunks;
        ValueTask forwarding = default;
        bool ownDone = false;
        try
        {
            for (int frame = 0; frame < frames; frame++)
            {
                int step = frame / chunks;
                var (offset, count) = plan.Layout.Chunk(Mod(_ring.Rank - step - 1, n), frame % chunks);
                PeerFrame received = await _ring.ReceiveAsync(plan.Header(frame), count * sizeof(float), cancellationToken)
                    .ConfigureAwait(false);
                try
                {
                    Apply(buffer.Span.Slice(offset, count), received.Payload.Span, step, n, op);
                }
                finally
                {
                    received.Release();
                }
                int next = frame + chunks;
                if (next < frames)
                {
                    if (!ownDone)
                    {
                        await ownSent.ConfigureAwait(false);
                        ownDone = true;
                    }
                    // Taken out before awaiting: a pooled ValueTask must be awaited exactly once, failure or not.
                    ValueTask previous = forwarding;
                    forwarding = default;
                    await previous.ConfigureAwait(false);
                    forwarding = _ring.SendAsync(
                        plan.Header(next), bytes.Slice(offset * sizeof(float), count * sizeof(float)), cancellationToken);
                }
            }
        }
        catch
        {
            // The caller's buffer must not be handed back while the kernel may still read it. A send to a failed
            // group ends when the group's teardown closes the link, so this wait is bounded.
            try
            {
                await forwarding.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The first failure is the one reported.
            }
            throw;
        }
        await forwarding.ConfigureAwait(false);
    }

    private static void Apply(Span<float> destination, ReadOnlySpan<byte> source, int step, int n, ReduceOp op)
    {
        Debug.Assert(source.Length == destination.Length * sizeof(float));
        if (Unsafe.AreSame(ref MemoryMarshal.GetReference(source), ref MemoryMarshal.GetReference(MemoryMarshal.AsBytes(destination))))
        {
            // The transport placed it (see RingPlacement): already copied or reduced into place.
            return;
        }
        if (step >= n - 1)
        {
            // All-gather: the chunk is final, reduced by its last rank.
            source.CopyTo(MemoryMarshal.AsBytes(destination));
        }
        else if (step == n - 2 && op == ReduceOp.Average)
        {
            FloatReduction.AddThenDivide(destination, source, n);
        }
        else
        {
            FloatReduction.Add(destination, source);
        }
    }

    private static int Mod(int value, int n) => ((value % n) + n) % n;

    private readonly record struct Plan(RingLayout Layout, CollectiveKind Kind, long Sequence, long TotalBytes)
    {
        public ChunkHeader Header(int index) => new(Sequence, index, Kind, TotalBytes, 0);
    }

    /// <summary>
    /// Tells the link where each chunk of this collective goes and how: reduce-scatter chunks are added into
    /// place (divided on the last step of an average), all-gather chunks copied. Safe to write there as soon as the
    /// chunk arrives, however far the reader runs ahead of the ring: a segment received at reduce-scatter step g
    /// has not been sent by this rank yet in this collective (it is next, at g + 1, after the frame is delivered),
    /// and nothing else writes it before; a final, all-gather chunk of segment s can only exist once this rank's
    /// own contribution to s has left its buffer (every rank's term is in the sum), and nothing in this
    /// collective writes segment s after it.
    /// </summary>
    private sealed class RingPlacement(Plan plan, int rank, int n, ReduceOp op, Memory<byte> bytes) : IChunkPlacement
    {
        public ChunkTarget TargetFor(in ChunkHeader header, int payloadBytes)
        {
            int chunks = plan.Layout.ChunksPerSegment;
            int frame = header.Index;
            if (header != plan.Header(frame) || frame < 0 || frame >= 2 * (n - 1) * chunks)
            {
                return default;
            }
            int step = frame / chunks;
            var (offset, count) = plan.Layout.Chunk(Mod(rank - step - 1, n), frame % chunks);
            if (count * sizeof(float) != payloadBytes)
            {
                return default;
            }
            var target = bytes.Slice(offset * sizeof(float), payloadBytes);
            return step >= n - 1 ? new ChunkTarget(target, PlacementMode.Copy, 1)
                : step == n - 2 && op == ReduceOp.Average ? new ChunkTarget(target, PlacementMode.AddThenDivide, n)
                : new ChunkTarget(target, PlacementMode.Add, 1);
        }
    }
}
