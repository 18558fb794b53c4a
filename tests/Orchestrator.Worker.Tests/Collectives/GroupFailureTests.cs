using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

[Collection(FailureDetectionCollection.Name)]
public sealed class GroupFailureTests
{
    // Short, so that failures surface quickly; the tests assert that they happen, never how fast.
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromSeconds(2);

    // For the test that names a rank by the chain of heartbeats: a neighbour counts as quiet after three missed
    // heartbeats (a tenth of the timeout each), and on an overloaded machine (2 cores, load average above 20) a
    // test process can go 600 ms without running, after which every rank blames its left-hand neighbour. Seen on
    // every transport, with the ring algorithm as it was before the TCP transport too.
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task A_peer_whose_transport_dies_mid_collective_fails_every_other_rank_naming_it(TransportKind kind)
    {
        const int World = 4;
        const int Dead = 2;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: ShortTimeout);
        var buffers = RingReference.Inputs(World, 1000, seed: 2);

        // Everyone but the doomed rank enters; they cannot finish without it, so they are mid-collective.
        var running = Others(World, Dead).ToDictionary(rank => rank, rank => groups[rank].AllReduceAsync(buffers[rank], ReduceOp.Sum));
        await Task.Delay(100);
        // Its server and streams go away with no farewell, as when the process is killed.
        await cluster.Transports[Dead].DisposeAsync();

        foreach (var (rank, task) in running)
        {
            var failure = await Assert.ThrowsAsync<CollectiveException>(() => task.WaitAsync(Cluster.HangGuard));
            Assert.Equal(Dead, failure.PeerRank);
            Assert.Equal(1, failure.Sequence);
            Assert.Contains($"rank {Dead}", failure.Message);
        }
        await Cluster.DisposeAllAsync(groups);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task A_peer_that_never_enters_the_collective_fails_every_other_rank_naming_it(TransportKind kind)
    {
        const int World = 4;
        const int Stalled = 2;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: StallTimeout);
        var buffers = RingReference.Inputs(World, 1000, seed: 2);

        // The stalled rank stays connected and keeps sending heartbeats; it just never calls the collective.
        var running = Others(World, Stalled).ToDictionary(rank => rank, rank => groups[rank].AllReduceAsync(buffers[rank], ReduceOp.Sum));

        foreach (var (rank, task) in running)
        {
            var failure = await Assert.ThrowsAsync<CollectiveException>(() => task.WaitAsync(Cluster.HangGuard));
            Assert.Equal(Stalled, failure.PeerRank);
            Assert.Equal(1, failure.Sequence);
            // Its right-hand neighbour sees it has not entered; ranks further on may time out on their own first,
            // naming it through the chain of heartbeats ("waiting on rank 2") rather than from that neighbour's report.
            Assert.Contains($"rank {Stalled}", failure.Message);
            Assert.Contains("collective #1", failure.Message);
        }
        // The straggler learns it too, at its next call.
        var own = await Assert.ThrowsAsync<CollectiveException>(() => groups[Stalled].AllReduceAsync(buffers[Stalled], ReduceOp.Sum));
        Assert.Equal(Stalled, own.PeerRank);
        await Cluster.DisposeAllAsync(groups);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task A_peer_that_leaves_the_group_mid_collective_fails_every_other_rank_naming_it(TransportKind kind)
    {
        const int World = 3;
        const int Leaver = 0;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: ShortTimeout);
        var buffers = RingReference.Inputs(World, 100, seed: 2);

        var running = Others(World, Leaver).ToDictionary(rank => rank, rank => groups[rank].BarrierAsync());
        await Task.Delay(100);
        await groups[Leaver].DisposeAsync();

        foreach (var (rank, task) in running)
        {
            var failure = await Assert.ThrowsAsync<CollectiveException>(() => task.WaitAsync(Cluster.HangGuard));
            Assert.Equal(Leaver, failure.PeerRank);
            Assert.Contains($"rank {Leaver} left the group during collective #1", failure.Message);
        }
        await Cluster.DisposeAllAsync(groups);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task Ranks_that_leave_right_after_their_last_collective_let_the_others_finish_it(TransportKind kind)
    {
        const int World = 4;
        const int Rounds = 5;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: ShortTimeout);

        // Each rank disposes its group the moment its own last all-reduce returns, while slower ranks may still be
        // finishing theirs: orderly shutdown must not turn into failures.
        var ranks = groups.Select(async (group, rank) =>
        {
            var buffer = new float[4099];
            for (int round = 0; round < Rounds; round++)
            {
                Array.Fill(buffer, rank + round);
                await group.AllReduceAsync(buffer, ReduceOp.Sum);
                Assert.All(buffer, value => Assert.Equal(World * (World - 1) / 2 + World * round, value));
            }
            await group.DisposeAsync();
        });

        await Task.WhenAll(ranks).WaitAsync(Cluster.HangGuard);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task Cancelling_a_collective_on_one_rank_fails_the_others_naming_that_rank(TransportKind kind)
    {
        const int World = 3;
        const int Canceller = 1;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: TimeSpan.FromSeconds(20));
        using var cancellation = new CancellationTokenSource();

        // Rank 0 does not enter, so ranks 1 and 2 are stuck in the collective when rank 1 gives up on it.
        var cancelled = groups[Canceller].AllReduceAsync(new float[10], ReduceOp.Sum, cancellation.Token);
        var waiting = groups[2].AllReduceAsync(new float[10], ReduceOp.Sum);
        await Task.Delay(100);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Cluster.HangGuard));
        var failure = await Assert.ThrowsAsync<CollectiveException>(() => waiting.WaitAsync(Cluster.HangGuard));
        Assert.Equal(Canceller, failure.PeerRank);
        Assert.Contains("cancelled", failure.Message);
        // The idle rank hears of it too: its next collective fails naming the same rank.
        var idle = await Assert.ThrowsAsync<CollectiveException>(() => groups[0].BarrierAsync().WaitAsync(Cluster.HangGuard));
        Assert.Equal(Canceller, idle.PeerRank);
        await Cluster.DisposeAllAsync(groups);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task Ranks_calling_different_collectives_fail_naming_both(TransportKind kind)
    {
        const int World = 3;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: TimeSpan.FromSeconds(20));

        // Rank 0 broadcasts while ranks 1 and 2 all-reduce.
        var broadcast = groups[0].BroadcastAsync(new float[10].AsMemory(), 0);
        var reduces = new[] { 1, 2 }.Select(rank => groups[rank].AllReduceAsync(new float[10], ReduceOp.Sum)).ToArray();

        var failures = new List<CollectiveException>();
        foreach (var task in reduces)
        {
            failures.Add(await Assert.ThrowsAsync<CollectiveException>(() => task.WaitAsync(Cluster.HangGuard)));
        }
        // The root only sends, so its broadcast may complete; the group is failed for it all the same.
        try
        {
            await broadcast.WaitAsync(Cluster.HangGuard);
        }
        catch (CollectiveException)
        {
        }
        await Assert.ThrowsAsync<CollectiveException>(() => groups[0].BarrierAsync().WaitAsync(Cluster.HangGuard));
        Assert.Contains(failures, f => f.Message.Contains("broadcast") && f.Message.Contains("all-reduce"));
        await Cluster.DisposeAllAsync(groups);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    [InlineData(TransportKind.SharedMemory)]
    public async Task Ranks_passing_buffers_of_different_lengths_fail_naming_both_lengths(TransportKind kind)
    {
        const int World = 2;
        await using var cluster = await Cluster.CreateAsync(kind, World);
        var groups = await cluster.FormAsync(timeout: TimeSpan.FromSeconds(20));

        var tasks = new[] { groups[0].AllReduceAsync(new float[10], ReduceOp.Sum), groups[1].AllReduceAsync(new float[11], ReduceOp.Sum) };

        var failures = new List<CollectiveException>();
        foreach (var task in tasks)
        {
            failures.Add(await Assert.ThrowsAsync<CollectiveException>(() => task.WaitAsync(Cluster.HangGuard)));
        }
        Assert.Contains(failures, f => f.Message.Contains("40 bytes") && f.Message.Contains("44 bytes"));
        await Cluster.DisposeAllAsync(groups);
    }

    [Fact]
    public async Task Heartbeats_keep_an_idle_group_alive_past_its_timeout()
    {
        await using var cluster = Cluster.InMemory(3);
        var groups = await cluster.FormAsync(timeout: TimeSpan.FromSeconds(1.5));
        try
        {
            // Idle for longer than the timeout: only heartbeats tell the ranks their peers are alive.
            await Task.Delay(TimeSpan.FromSeconds(4));
            var buffers = RingReference.Inputs(3, 30, seed: 8);

            await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], ReduceOp.Average))).WaitAsync(Cluster.HangGuard);

            Assert.All(groups, g => Assert.Null(g.Fault));
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    private static IEnumerable<int> Others(int world, int except) => Enumerable.Range(0, world).Where(rank => rank != except);
}
