using System.Security.Cryptography;
using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>How a group chooses its all-reduce path at setup, what the shared-memory segment accepts and leaves behind, and
/// the split all-reduce's halves. Some tests wait out a group's timeout, hence the collection that runs them alone.</summary>
[Collection(FailureDetectionCollection.Name)]
public sealed class SharedMemoryTests
{
    private static string OwnSegments => SharedMemoryAllReduce.Prefix + Environment.ProcessId + "-";

    [Fact]
    public async Task A_group_on_one_host_all_reduces_through_shared_memory_and_leaves_no_file_behind()
    {
        await using var cluster = await Cluster.SharedMemoryAsync(3);
        var groups = await cluster.FormAsync();
        try
        {
            Assert.All(groups, g => Assert.True(g.UsesSharedMemory, g.AllReducePath));
            Assert.All(groups, g => Assert.Null(g.SharedMemoryUnavailable));
            // Every rank maps the one segment rank 0 made, and rank 0 removed its name once they all had: a rank killed
            // from now on leaves nothing behind.
            string path = groups[0].SharedMemorySegmentPath!;
            Assert.StartsWith("/dev/shm/" + OwnSegments, path);
            Assert.All(groups, g => Assert.Equal(path, g.SharedMemorySegmentPath));
            Assert.False(File.Exists(path));

            await Cluster.AssertAllReduceMatchesReferenceAsync(groups, 5000, seed: 4, ReduceOp.Sum);
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task One_rank_with_shared_memory_off_keeps_the_whole_group_on_the_ring_and_says_why(int off)
    {
        await using var cluster = await Cluster.SharedMemoryAsync(3);
        string groupId = Cluster.NewGroupId();
        var groups = await cluster.FormAsync(rank => new ProcessGroupOptions
        {
            GroupId = groupId, Rank = rank, WorldSize = 3, Endpoints = cluster.Endpoints, SharedMemory = rank != off,
        });
        try
        {
            Assert.All(groups, g => Assert.False(g.UsesSharedMemory));
            // The rank that declined knows why first-hand; rank 0 (which offers the segment) is told by the vote.
            Assert.Contains($"turned off on rank {off}", groups[off].SharedMemoryUnavailable);
            Assert.All(groups, g => Assert.StartsWith("ring (", g.AllReducePath));

            // The ring carries the all-reduce instead, with the same numbers.
            await Cluster.AssertAllReduceMatchesReferenceAsync(groups, 1001, seed: 5, ReduceOp.Average);
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Fact]
    public async Task A_split_all_reduce_published_before_and_summed_after_other_work_equals_the_ring_reference()
    {
        const int World = 3;
        await using var cluster = await Cluster.SharedMemoryAsync(World);
        var groups = await cluster.FormAsync();
        try
        {
            var inputs = RingReference.Inputs(World, 2049, seed: 12);
            var buffers = inputs.Select(input => input.ToArray()).ToArray();
            Assert.All(groups, g => Assert.True(g.CanSplitAllReduce(2049)));
            // Each rank on its own thread, as a training loop: begin, work for a while (longer on some ranks), end.
            var threads = groups.Select((g, rank) => new Thread(() =>
            {
                g.BeginAllReduce(buffers[rank], ReduceOp.Average);
                Thread.Sleep(20 * rank);
                g.EndAllReduce();
            })).ToArray();
            foreach (var thread in threads) thread.Start();
            foreach (var thread in threads) Assert.True(thread.Join(Cluster.HangGuard), "a split all-reduce did not end");

            var expected = RingReference.AllReduce(inputs, ReduceOp.Average);
            Assert.All(buffers, b => Assert.Equal(expected, b));
            Assert.All(groups, g => Assert.Equal(1, g.Sequence));
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Fact]
    public async Task A_split_all_reduce_is_one_collective_and_refuses_misuse_with_a_clear_error()
    {
        await using var ring = await Cluster.TcpAsync(2);
        var ringGroups = await ring.FormAsync();
        await using var cluster = await Cluster.SharedMemoryAsync(2);
        var groups = await cluster.FormAsync();
        try
        {
            // A group on the ring cannot split one (nor can a buffer longer than a slot).
            Assert.False(ringGroups[0].CanSplitAllReduce(10));
            Assert.False(groups[0].CanSplitAllReduce(SharedMemoryAllReduce.DefaultSlotBytes / sizeof(float) + 1));
            var refused = Assert.Throws<InvalidOperationException>(() => ringGroups[0].BeginAllReduce(new float[10], ReduceOp.Sum));
            Assert.Contains("call AllReduce instead", refused.Message);
            Assert.Throws<InvalidOperationException>(() => groups[0].EndAllReduce());

            var a = new float[] { 1, 2 };
            groups[0].BeginAllReduce(a, ReduceOp.Sum);
            // Between the halves the collective is still running: nothing else may start on this rank.
            Assert.Throws<InvalidOperationException>(() => groups[0].AllReduce(new float[2], ReduceOp.Sum));
            var b = new float[] { 10, 20 };
            var other = Task.Run(() => groups[1].AllReduce(b, ReduceOp.Sum));
            groups[0].EndAllReduce();
            await other.WaitAsync(Cluster.HangGuard);
            Assert.Equal(new float[] { 11, 22 }, a);
            Assert.Equal(new float[] { 11, 22 }, b);
            Assert.All(groups, g => Assert.Null(g.Fault));
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
            await Cluster.DisposeAllAsync(ringGroups);
        }
    }

    [Fact]
    public async Task Work_between_the_halves_longer_than_the_timeout_is_not_a_stall_once_every_rank_has_published()
    {
        await using var cluster = await Cluster.SharedMemoryAsync(2);
        var groups = await cluster.FormAsync(timeout: TimeSpan.FromSeconds(2));
        try
        {
            var buffers = new[] { new float[] { 1 }, new float[] { 2 } };
            var threads = groups.Select((g, rank) => new Thread(() =>
            {
                g.BeginAllReduce(buffers[rank], ReduceOp.Sum);
                // Both have published; rank 0 computes for 2.5 timeouts before it ends its half.
                if (rank == 0) Thread.Sleep(5000);
                g.EndAllReduce();
            })).ToArray();
            foreach (var thread in threads) thread.Start();
            foreach (var thread in threads) Assert.True(thread.Join(Cluster.HangGuard));

            Assert.All(buffers, b => Assert.Equal(3f, b[0]));
            Assert.All(groups, g => Assert.Null(g.Fault));
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Fact]
    public async Task A_rank_that_never_begins_a_split_all_reduce_fails_the_others_naming_it()
    {
        await using var cluster = await Cluster.SharedMemoryAsync(3);
        var groups = await cluster.FormAsync(timeout: TimeSpan.FromSeconds(2));
        try
        {
            var failures = new CollectiveException?[3];
            var threads = new[] { 0, 1 }.Select(rank => new Thread(() =>
            {
                groups[rank].BeginAllReduce(new float[8], ReduceOp.Sum);
                try
                {
                    groups[rank].EndAllReduce();
                }
                catch (CollectiveException e)
                {
                    failures[rank] = e;
                }
            })).ToArray();
            foreach (var thread in threads) thread.Start();
            foreach (var thread in threads) Assert.True(thread.Join(Cluster.HangGuard));

            foreach (var failure in failures.Take(2))
            {
                Assert.NotNull(failure);
                Assert.Equal(2, failure.PeerRank);
                Assert.Contains("rank 2", failure.Message);
                Assert.Contains("collective #1", failure.Message);
            }
        }
        finally
        {
            await Cluster.DisposeAllAsync(groups);
        }
    }

    [Fact]
    public void A_rank_cannot_map_a_segment_that_is_not_its_groups()
    {
        using var segment = SharedMemoryAllReduce.Create(2, 4096, out var nonce);
        try
        {
            var wrongNonce = RandomNumberGenerator.GetBytes(nonce.Length);
            // Another host's file of the same name, or a stale one: the nonce rank 0 announced does not match.
            var stranger = Assert.Throws<IOException>(() => SharedMemoryAllReduce.Open(segment.Path, wrongNonce, 2, 1));
            Assert.Contains("not this group's segment", stranger.Message);
            // A group of another size.
            Assert.Throws<IOException>(() => SharedMemoryAllReduce.Open(segment.Path, nonce, 3, 1));
            // Nothing at that name (a rank on another host).
            Assert.ThrowsAny<IOException>(() => SharedMemoryAllReduce.Open(segment.Path + "-missing", nonce, 2, 1));
            // A path outside /dev/shm is never opened, whatever a peer announces.
            var outside = Assert.Throws<IOException>(() => SharedMemoryAllReduce.Open("/etc/passwd", nonce, 2, 1));
            Assert.Contains("not a collective segment", outside.Message);
            // The real one maps.
            using var peer = SharedMemoryAllReduce.Open(segment.Path, nonce, 2, 1);
        }
        finally
        {
            segment.Unlink();
        }
    }

    [Fact]
    public void Creating_a_segment_removes_old_ones_whose_creator_is_gone_and_nothing_else()
    {
        string directory = "/dev/shm";
        // Process id 999999999 is above any kernel's pid_max: that creator is gone.
        string orphan = Path.Combine(directory, SharedMemoryAllReduce.Prefix + "999999999-" + Guid.NewGuid().ToString("N")[..8]);
        string recent = Path.Combine(directory, SharedMemoryAllReduce.Prefix + "999999999-" + Guid.NewGuid().ToString("N")[..8]);
        string live = Path.Combine(directory, OwnSegments + Guid.NewGuid().ToString("N")[..8]);
        foreach (var file in new[] { orphan, recent, live }) File.WriteAllBytes(file, [1]);
        File.SetLastWriteTimeUtc(orphan, DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(live, DateTime.UtcNow.AddHours(-2));
        try
        {
            using var segment = SharedMemoryAllReduce.Create(2, 4096, out _);
            segment.Unlink();

            Assert.False(File.Exists(orphan), "an hour-old segment of a process that is gone was left behind");
            // A recent one may belong to a live process in another container (same /dev/shm, other process ids).
            Assert.True(File.Exists(recent));
            Assert.True(File.Exists(live));
        }
        finally
        {
            foreach (var file in new[] { orphan, recent, live }) File.Delete(file);
        }
    }
}
