using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

public sealed class AllReduceTests(TransportsFixture transports) : IClassFixture<TransportsFixture>
{
    public static TheoryData<TransportKind, int> Worlds()
    {
        var data = new TheoryData<TransportKind, int>();
        foreach (var kind in new[] { TransportKind.InMemory, TransportKind.Grpc, TransportKind.Tcp, TransportKind.SharedMemory })
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
            // The shared-memory kind takes that path (and gives the ring's bits); every other kind stays on the ring.
            Assert.All(groups, g => Assert.Equal(kind == TransportKind.SharedMemory && world > 1, g.UsesSharedMemory));
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
    [InlineData(TransportKind.SharedMemory)]
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
    [InlineData(TransportKind.SharedMemory)]
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

    public static TheoryData<int> SharedMemoryWorlds() => new() { 2, 3, 4, 5 };

    [Theory]
    [MemberData(nameof(SharedMemoryWorlds))]
    public async Task Shared_memory_all_reduce_in_many_pieces_equals_the_ring_order_reference_bit_for_bit(int world)
    {
        // 64-byte slots: every buffer longer than 16 floats goes in pieces whose edges fall inside segments, and the
        // two sets of slots alternate dozens of times.
        await using var cluster = await transports.ClusterAsync(TransportKind.SharedMemory, world);
        string groupId = Cluster.NewGroupId();
        var groups = await cluster.FormAsync(rank => new ProcessGroupOptions
        {
            GroupId = groupId, Rank = rank, WorldSize = world, Endpoints = cluster.Endpoints, SharedMemory = true, SharedMemorySlotBytes = 64,
        });
        try
        {
            Assert.All(groups, g => Assert.True(g.UsesSharedMemory, g.AllReducePath));
            int seed = 31 * world;
            foreach (int length in new[] { 0, 1, 15, 16, 17, 1000, 1003 })
            {
                foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Average })
                {
                    await Cluster.AssertAllReduceMatchesReferenceAsync(groups, length, seed++, op);
                }
            }
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Shared_memory_all_reduce_of_buffers_longer_than_a_slot_matches_the_reference_on_threads_of_their_own(int world)
    {
        // 12 MB per rank: three pieces of the default 4 MiB slots. Two ranks sum every piece whole; four sum it by
        // segment in place and meet twice. Each rank calls the blocking AllReduce from its own thread, as training does.
        const int Length = 3_000_001;
        await using var cluster = await transports.ClusterAsync(TransportKind.SharedMemory, world);
        var groups = await cluster.FormAsync();
        try
        {
            var inputs = RingReference.Inputs(world, Length, seed: 11);
            var buffers = inputs.Select(input => input.ToArray()).ToArray();
            var threads = groups.Select((g, rank) => new Thread(() => g.AllReduce(buffers[rank], ReduceOp.Average))).ToArray();
            foreach (var thread in threads) thread.Start();
            foreach (var thread in threads) Assert.True(thread.Join(Cluster.HangGuard), "a rank's all-reduce did not return");

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
