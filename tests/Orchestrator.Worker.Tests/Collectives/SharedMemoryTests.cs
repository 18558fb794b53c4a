using System.Security.Cryptography;
using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>How a group chooses its all-reduce path at setup, and what the shared-memory segment accepts and leaves behind.</summary>
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

            var inputs = RingReference.Inputs(3, 5000, seed: 4);
            var buffers = inputs.Select(input => input.ToArray()).ToArray();
            await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], ReduceOp.Sum))).WaitAsync(Cluster.HangGuard);
            var expected = RingReference.AllReduce(inputs, ReduceOp.Sum);
            Assert.All(buffers, b => Assert.Equal(expected, b));
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
            var inputs = RingReference.Inputs(3, 1001, seed: 5);
            var buffers = inputs.Select(input => input.ToArray()).ToArray();
            await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], ReduceOp.Average))).WaitAsync(Cluster.HangGuard);
            var expected = RingReference.AllReduce(inputs, ReduceOp.Average);
            Assert.All(buffers, b => Assert.Equal(expected, b));
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
