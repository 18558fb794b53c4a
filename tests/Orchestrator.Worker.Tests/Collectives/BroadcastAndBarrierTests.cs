using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

public sealed class BroadcastAndBarrierTests(TransportsFixture transports) : IClassFixture<TransportsFixture>
{
    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task Broadcast_copies_the_roots_bytes_to_every_rank_from_every_root(TransportKind kind)
    {
        const int World = 4;
        await using var cluster = await transports.ClusterAsync(kind, World);
        var groups = await cluster.FormAsync(chunkBytes: 64);
        try
        {
            var random = new Random(5);
            for (int root = 0; root < World; root++)
            {
                // 1,001 bytes: 16 chunks, the last one short.
                foreach (int length in new[] { 0, 1, 1001 })
                {
                    var buffers = Enumerable.Range(0, World).Select(_ => RandomBytes(random, length)).ToArray();
                    var original = buffers[root].ToArray();

                    await Task.WhenAll(groups.Select((g, rank) => g.BroadcastAsync(buffers[rank].AsMemory(), root))).WaitAsync(Cluster.HangGuard);

                    Assert.All(buffers, buffer => Assert.Equal(original, buffer));
                }
            }
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Theory]
    [InlineData(TransportKind.InMemory, 2)]
    [InlineData(TransportKind.InMemory, 5)]
    [InlineData(TransportKind.Grpc, 3)]
    [InlineData(TransportKind.Tcp, 3)]
    [InlineData(TransportKind.Tcp, 4)]
    public async Task Broadcast_of_floats_from_a_non_zero_root_gives_every_rank_the_roots_values(TransportKind kind, int world)
    {
        int root = world - 1;
        await using var cluster = await transports.ClusterAsync(kind, world);
        var groups = await cluster.FormAsync(chunkBytes: 64);
        try
        {
            // Rank 0's state is what training broadcasts; any root must work, so the test uses the last one.
            var buffers = RingReference.Inputs(world, 1003, seed: 9);
            var original = buffers[root].ToArray();

            await Task.WhenAll(groups.Select((g, rank) => g.BroadcastAsync(buffers[rank].AsMemory(), root))).WaitAsync(Cluster.HangGuard);

            Assert.All(buffers, buffer => Assert.Equal(original, buffer));
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
    public async Task Barrier_releases_no_rank_before_the_last_one_enters(TransportKind kind)
    {
        const int World = 4;
        await using var cluster = await transports.ClusterAsync(kind, World);
        var groups = await cluster.FormAsync();
        try
        {
            var early = groups.Take(World - 1).Select(g => g.BarrierAsync()).ToArray();
            // However long the wait, a correct barrier cannot finish before the last rank enters.
            await Task.Delay(300);
            Assert.All(early, task => Assert.False(task.IsCompleted));

            await Task.WhenAll(early.Append(groups[World - 1].BarrierAsync())).WaitAsync(Cluster.HangGuard);
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
    public async Task Collectives_take_consecutive_sequence_numbers_on_every_rank(TransportKind kind)
    {
        const int World = 3;
        await using var cluster = await transports.ClusterAsync(kind, World);
        var groups = await cluster.FormAsync();
        try
        {
            Assert.All(groups, g => Assert.Equal(0, g.Sequence));
            var buffers = RingReference.Inputs(World, 10, seed: 1);

            await Task.WhenAll(groups.Select(g => g.BarrierAsync())).WaitAsync(Cluster.HangGuard);
            await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], ReduceOp.Sum))).WaitAsync(Cluster.HangGuard);
            await Task.WhenAll(groups.Select((g, rank) => g.BroadcastAsync(buffers[rank].AsMemory(), 1))).WaitAsync(Cluster.HangGuard);

            Assert.All(groups, g => Assert.Equal(3, g.Sequence));
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Fact]
    public async Task A_second_collective_while_one_runs_is_refused()
    {
        await using var cluster = Cluster.InMemory(2);
        var groups = await cluster.FormAsync();
        try
        {
            // Rank 1 has not entered, so rank 0's barrier is still running.
            var running = groups[0].BarrierAsync();

            await Assert.ThrowsAsync<InvalidOperationException>(() => groups[0].AllReduceAsync(new float[4], ReduceOp.Sum));

            await Task.WhenAll(running, groups[1].BarrierAsync()).WaitAsync(Cluster.HangGuard);
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
