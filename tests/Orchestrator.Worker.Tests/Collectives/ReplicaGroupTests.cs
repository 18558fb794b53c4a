using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>Replicas inside a process, alone and composed with a ring of (in-memory) processes.</summary>
public sealed class ReplicaGroupTests
{
    /// <summary>
    /// Forms <paramref name="processes"/> ring members with <paramref name="devices"/> replicas each and runs
    /// <paramref name="body"/> on one dedicated thread per replica, as the trainer does; results by global rank.
    /// </summary>
    private static async Task<T[]> RunAsync<T>(int processes, int devices, Func<ICommunicator, T> body, TimeSpan? timeout = null)
    {
        await using var cluster = Cluster.InMemory(processes);
        ProcessGroup[]? rings = processes > 1 ? await cluster.FormAsync(chunkBytes: 64) : null;
        try
        {
            var groups = Enumerable.Range(0, processes).Select(p => ReplicaGroup.Create(devices, rings?[p], timeout)).ToArray();
            var threads = groups.SelectMany(g => g.Replicas).Select(replica => Task.Factory.StartNew(
                () => body(replica), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            await Task.WhenAll(threads.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(Cluster.HangGuard);
            var results = await Task.WhenAll(threads);
            return Enumerable.Range(0, processes * devices).Select(rank => results[rank]).ToArray();
        }
        finally
        {
            if (rings is not null) await Cluster.DisposeAllAsync(rings);
        }
    }

    private static float[] Input(int rank, int count)
    {
        var random = new Random(1000 + rank);
        // Magnitudes over several decades, so that the summation order shows in the low bits.
        return Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4)))).ToArray();
    }

    /// <summary>Each process sums its replicas in local order, the ring sums the processes, an average divides by P·D.</summary>
    private static float[] Reference(int processes, int devices, int count, ReduceOp op)
    {
        var partial = new float[processes][];
        for (int p = 0; p < processes; p++)
        {
            partial[p] = Input(p * devices, count);
            for (int i = 1; i < devices; i++)
            {
                var other = Input(p * devices + i, count);
                for (int k = 0; k < count; k++) partial[p][k] += other[k];
            }
        }
        var sum = processes > 1 ? RingReference.AllReduce(partial, ReduceOp.Sum) : partial[0];
        if (op == ReduceOp.Average) sum = sum.Select(v => v / (processes * devices)).ToArray();
        return sum;
    }

    [Theory]
    [InlineData(1, 1, 10, ReduceOp.Sum)]
    [InlineData(1, 2, 1001, ReduceOp.Average)]
    [InlineData(1, 3, 1, ReduceOp.Sum)]
    [InlineData(1, 4, 0, ReduceOp.Average)]
    [InlineData(2, 2, 1001, ReduceOp.Average)]
    [InlineData(2, 3, 37, ReduceOp.Sum)]
    [InlineData(3, 2, 5, ReduceOp.Average)]
    [InlineData(2, 1, 100, ReduceOp.Sum)]
    public async Task All_reduce_gives_every_replica_the_sum_over_processes_and_devices(int processes, int devices, int count, ReduceOp op)
    {
        var expected = Reference(processes, devices, count, op);

        var results = await RunAsync(processes, devices, replica =>
        {
            var buffer = Input(replica.Rank, count);
            replica.AllReduceAsync(buffer, op).GetAwaiter().GetResult();
            return (replica.Rank, replica.WorldSize, buffer);
        });

        for (int rank = 0; rank < results.Length; rank++)
        {
            Assert.Equal((rank, processes * devices), (results[rank].Rank, results[rank].WorldSize));
            Assert.Equal(expected, results[rank].buffer);
        }
    }

    [Theory]
    [InlineData(1, 3, 2)]
    [InlineData(2, 2, 0)]
    [InlineData(2, 2, 3)]
    [InlineData(3, 2, 4)]
    public async Task Broadcast_copies_the_root_replicas_buffer_everywhere(int processes, int devices, int root)
    {
        var results = await RunAsync(processes, devices, replica =>
        {
            var floats = Input(replica.Rank, 33);
            var bytes = new byte[17];
            new Random(replica.Rank).NextBytes(bytes);
            replica.BroadcastAsync(floats.AsMemory(), root).GetAwaiter().GetResult();
            replica.BroadcastAsync(bytes.AsMemory(), root).GetAwaiter().GetResult();
            return (floats, bytes);
        });

        var rootBytes = new byte[17];
        new Random(root).NextBytes(rootBytes);
        foreach (var (floats, bytes) in results)
        {
            Assert.Equal(Input(root, 33), floats);
            Assert.Equal(rootBytes, bytes);
        }
    }

    [Fact]
    public async Task Barrier_holds_every_replica_until_all_have_arrived()
    {
        int arrived = 0;
        var seen = await RunAsync(2, 2, replica =>
        {
            Thread.Sleep(50 * replica.Rank);
            Interlocked.Increment(ref arrived);
            replica.BarrierAsync().GetAwaiter().GetResult();
            return Volatile.Read(ref arrived);
        });

        Assert.All(seen, count => Assert.Equal(4, count));
    }

    [Fact]
    public async Task A_replica_that_never_arrives_fails_the_others_naming_its_rank()
    {
        var results = await RunAsync(1, 3, replica =>
        {
            if (replica.Rank == 2) return (CollectiveException?)null;
            return Assert.Throws<CollectiveException>(() => replica.AllReduceAsync(new float[4], ReduceOp.Sum).GetAwaiter().GetResult());
        }, timeout: TimeSpan.FromMilliseconds(500));

        Assert.Equal(2, results[0]!.PeerRank);
        Assert.Contains("replica(s) 2 did not reach collective 1", results[0]!.Message);
        Assert.Equal(2, results[1]!.PeerRank);
    }

    [Fact]
    public async Task Abort_fails_the_replicas_waiting_in_a_collective_at_once()
    {
        var group = ReplicaGroup.Create(2, timeout: TimeSpan.FromMinutes(5));
        var waiting = Task.Factory.StartNew(
            () => Assert.Throws<CollectiveException>(() => group.Replicas[0].AllReduceAsync(new float[4], ReduceOp.Sum).GetAwaiter().GetResult()),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Delay(100);

        group.Abort(1, "out of memory");

        var error = await waiting.WaitAsync(Cluster.HangGuard);
        Assert.Equal("replica 1 failed: out of memory", error.Message);
        Assert.Equal(1, error.PeerRank);
    }

    [Fact]
    public async Task Buffers_of_different_lengths_fail_every_replica()
    {
        var results = await RunAsync(1, 2, replica =>
            Assert.Throws<CollectiveException>(() => replica.AllReduceAsync(new float[4 + replica.Rank], ReduceOp.Sum).GetAwaiter().GetResult()));

        Assert.All(results, e => Assert.Contains("replica 1 passed 5 elements, replica 0 4", e.Message));
    }
}
