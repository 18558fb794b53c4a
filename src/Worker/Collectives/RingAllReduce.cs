using System.Diagnostics;
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
        // One count per reduced chunk: the sender may forward chunk c of step g only after it was received at g - 1.
        using var reduced = new SemaphoreSlim(0);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task send = SendAllAsync(plan, bytes.Memory, reduced, stop.Token);
        Task receive = ReceiveAllAsync(plan, buffer, op, reduced, stop.Token);
        await PairedLoops.WhenBothAsync(send, receive, stop).ConfigureAwait(false);
    }

    private async Task SendAllAsync(Plan plan, Memory<byte> bytes, SemaphoreSlim reduced, CancellationToken cancellationToken)
    {
        int n = _ring.WorldSize;
        int chunks = plan.Layout.ChunksPerSegment;
        int frames = 2 * (n - 1) * chunks;
        for (int frame = 0; frame < frames; frame++)
        {
            int step = frame / chunks;
            if (step > 0)
            {
                await reduced.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            var (offset, count) = plan.Layout.Chunk(Mod(_ring.Rank - step, n), frame % chunks);
            await _ring.SendAsync(
                plan.Header(frame),
                bytes.Slice(offset * sizeof(float), count * sizeof(float)),
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReceiveAllAsync(
        Plan plan, Memory<float> buffer, ReduceOp op, SemaphoreSlim reduced, CancellationToken cancellationToken)
    {
        int n = _ring.WorldSize;
        int chunks = plan.Layout.ChunksPerSegment;
        int frames = 2 * (n - 1) * chunks;
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
            if (frame + chunks < frames)
            {
                reduced.Release();
            }
        }
    }

    private static void Apply(Span<float> destination, ReadOnlySpan<byte> source, int step, int n, ReduceOp op)
    {
        Debug.Assert(source.Length == destination.Length * sizeof(float));
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
}
