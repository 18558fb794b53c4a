using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

public sealed class AllReduceTests(TransportsFixture transports) : IClassFixture<TransportsFixture>
{
    public static TheoryData<TransportKind, int> Worlds()
    {
        var data = new TheoryData<TransportKind, int>();
        foreach (var kind in new[] { TransportKind.InMemory, TransportKind.Grpc, TransportKind.Tcp })
        {
            for (int world = 1; world <= 5; world++)
            {
                data.Add(kind, world);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Worlds))]
    public async Task All_reduce_equals_the_ring_order_reference_bit_for_bit_on_every_rank(TransportKind kind, int world)
    {
        // The reference is a sequential float32 sum in the ring's documented order (RingReference.AllReduce), and the
        // assertion is bitwise: float addition is not associative, so only the same order gives the same bits, and
        // exactness is what catches a chunk reduced twice, into the wrong place, or by the wrong rank, and any rank
        // ending up a rounding step away from the others. A tolerance against the exact sum checks it is a sum at all.
        await using var cluster = await transports.ClusterAsync(kind, world);
        // 64-byte chunks (16 floats): the 1,003-element buffers span dozens of chunks per segment.
        var groups = await cluster.FormAsync(chunkBytes: 64);
        try
        {
            int seed = 100 * world;
            int collectives = 0;
            // Lengths not divisible by the world size, shorter than it (empty segments), one element, none.
            foreach (int length in new[] { 0, 1, 2, 3, 7, 16, 1000, 1003 })
            {
                foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Average })
                {
                    var inputs = RingReference.Inputs(world, length, seed++);
                    var buffers = inputs.Select(input => input.ToArray()).ToArray();

                    await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], op))).WaitAsync(Cluster.HangGuard);
                    collectives++;

                    var expected = RingReference.AllReduce(inputs, op);
                    foreach (var buffer in buffers)
                    {
                        Assert.Equal(Bits(expected), Bits(buffer));
                    }
                    AssertCloseToExact(inputs, op, buffers[0]);
                }
            }
            Assert.All(groups, g => Assert.Equal(collectives, g.Sequence));
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task All_reduce_of_a_buffer_spanning_several_default_chunks_matches_the_reference(TransportKind kind)
    {
        const int World = 3;
        // 8 MB per rank: segments of about 2.7 MB, three 1 MiB chunks each.
        const int Length = 2_000_003;
        await using var cluster = await transports.ClusterAsync(kind, World);
        var groups = await cluster.FormAsync(chunkBytes: ProcessGroupOptions.DefaultChunkBytes);
        try
        {
            var inputs = RingReference.Inputs(World, Length, seed: 7);
            var buffers = inputs.Select(input => input.ToArray()).ToArray();

            await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], ReduceOp.Average))).WaitAsync(Cluster.HangGuard);

            var expected = RingReference.AllReduce(inputs, ReduceOp.Average);
            foreach (var buffer in buffers)
            {
                Assert.True(Bits(expected).SequenceEqual(Bits(buffer)), "a rank's result differs from the ring-order reference");
            }
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task All_reduce_on_a_slice_changes_only_the_slice(TransportKind kind)
    {
        const int World = 4;
        await using var cluster = await transports.ClusterAsync(kind, World);
        var groups = await cluster.FormAsync(chunkBytes: 64);
        try
        {
            var inputs = RingReference.Inputs(World, 101, seed: 3);
            // Each rank's data sits at offset 13 of a larger array whose other elements must survive.
            var arrays = inputs.Select(input => Enumerable.Repeat(-1f, 13).Concat(input).Concat(Enumerable.Repeat(-2f, 9)).ToArray()).ToArray();

            await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(arrays[rank].AsMemory(13, 101), ReduceOp.Sum))).WaitAsync(Cluster.HangGuard);

            var expected = RingReference.AllReduce(inputs, ReduceOp.Sum);
            foreach (var array in arrays)
            {
                Assert.Equal(Enumerable.Repeat(-1f, 13), array[..13]);
                Assert.Equal(Bits(expected), Bits(array[13..114]));
                Assert.Equal(Enumerable.Repeat(-2f, 9), array[114..]);
            }
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static void AssertCloseToExact(float[][] inputs, ReduceOp op, float[] actual)
    {
        var exact = RingReference.Exact(inputs, op);
        int n = inputs.Length;
        for (int i = 0; i < actual.Length; i++)
        {
            double magnitude = 0;
            foreach (var input in inputs)
            {
                magnitude += Math.Abs(input[i]);
            }
            if (op == ReduceOp.Average)
            {
                magnitude /= n;
            }
            // n roundings of at most half an ulp of a partial sum, each bounded by the sum of magnitudes.
            double bound = n * Math.Pow(2, -23) * magnitude + 1e-30;
            Assert.InRange(Math.Abs(actual[i] - exact[i]), 0, bound);
        }
    }
}
