using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

public sealed class GroupSetupTests
{
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task Setup_fails_on_every_rank_naming_the_world_size_difference(TransportKind kind)
    {
        await using var cluster = await Cluster.CreateAsync(kind, 3);
        string groupId = Cluster.NewGroupId();

        var failures = await FormExpectingFailureAsync(cluster, rank => rank == 1
            // Rank 1 believes in a fourth rank; its neighbours are the same ones.
            ? new ProcessGroupOptions
            {
                GroupId = groupId,
                Rank = 1,
                WorldSize = 4,
                Endpoints = [.. cluster.Endpoints, "nowhere:1"],
                ChunkBytes = 64,
                Timeout = SetupTimeout,
                LayoutFingerprint = "G:[64,100];D:[1,64];buckets:2",
            }
            : cluster.Options(rank, groupId, timeout: SetupTimeout));

        Assert.All(failures, failure => Assert.Contains("world size differs", failure.Message));
        Assert.Contains(failures, failure => failure.Message.Contains("rank 1 has 4") && failure.Message.Contains("has 3"));
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task Setup_fails_naming_the_layout_fingerprint_difference(TransportKind kind)
    {
        await using var cluster = await Cluster.CreateAsync(kind, 4);
        string groupId = Cluster.NewGroupId();

        var failures = await FormExpectingFailureAsync(cluster, rank => cluster.Options(
            rank, groupId, timeout: SetupTimeout, fingerprint: rank == 2 ? "G:[64,100];D:[1,64];buckets:3" : "G:[64,100];D:[1,64];buckets:2"));

        // Ranks 1, 2 and 3 see the mismatch first-hand (rank 1 when rank 2 refuses it, or from rank 2's retired group).
        foreach (int rank in new[] { 1, 2, 3 })
        {
            Assert.Contains("layout fingerprint differs", failures[rank].Message);
            Assert.Contains("buckets:3", failures[rank].Message);
            Assert.Contains("buckets:2", failures[rank].Message);
        }
        // Rank 0 is not next to rank 2; it fails too, whichever neighbour tells it first.
        Assert.NotNull(failures[0]);
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task Setup_fails_naming_the_chunk_size_difference(TransportKind kind)
    {
        await using var cluster = await Cluster.CreateAsync(kind, 2);
        string groupId = Cluster.NewGroupId();

        var failures = await FormExpectingFailureAsync(cluster, rank => cluster.Options(
            rank, groupId, chunkBytes: rank == 0 ? 64 : 128, timeout: SetupTimeout));

        Assert.All(failures, failure => Assert.Contains("chunk size differs", failure.Message));
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task Setup_fails_naming_both_group_ids_when_they_differ(TransportKind kind)
    {
        await using var cluster = await Cluster.CreateAsync(kind, 3);
        string groupId = Cluster.NewGroupId();
        string stray = Cluster.NewGroupId();

        var failures = await FormExpectingFailureAsync(cluster, rank => cluster.Options(
            rank, rank == 1 ? stray : groupId, timeout: SetupTimeout));

        // Rank 1's group is unknown to rank 2 and rank 0's to rank 1: each side names both ids.
        foreach (var failure in failures)
        {
            Assert.True(failure.Message.Contains(groupId) && failure.Message.Contains(stray), failure.Message);
        }
    }

    [Fact]
    public async Task Setup_rejects_options_that_cannot_form_a_ring()
    {
        await using var cluster = Cluster.InMemory(2);
        var valid = cluster.Options(0, Cluster.NewGroupId());

        await Assert.ThrowsAnyAsync<ArgumentException>(() => ProcessGroup.CreateAsync(cluster.Transports[0], new ProcessGroupOptions
        {
            GroupId = valid.GroupId,
            Rank = 2,
            WorldSize = 2,
            Endpoints = valid.Endpoints,
        }));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => ProcessGroup.CreateAsync(cluster.Transports[0], new ProcessGroupOptions
        {
            GroupId = valid.GroupId,
            Rank = 0,
            WorldSize = 2,
            Endpoints = valid.Endpoints,
            ChunkBytes = 6,
        }));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => ProcessGroup.CreateAsync(cluster.Transports[0], new ProcessGroupOptions
        {
            GroupId = valid.GroupId,
            Rank = 0,
            WorldSize = 3,
            Endpoints = valid.Endpoints,
        }));
    }

    [Fact]
    public async Task Grpc_transport_on_port_zero_reports_the_port_it_bound()
    {
        await using var transport = await GrpcTransport.StartAsync("127.0.0.1", 0);

        Assert.InRange(transport.Port, 1, 65535);
        Assert.Equal($"127.0.0.1:{transport.Port}", transport.Endpoint);
    }

    [Fact]
    public async Task Tcp_transport_on_port_zero_reports_the_port_it_bound()
    {
        await using var transport = await TcpTransport.StartAsync("127.0.0.1", 0);

        Assert.InRange(transport.Port, 1, 65535);
        Assert.Equal($"127.0.0.1:{transport.Port}", transport.Endpoint);
    }

    [Theory]
    [InlineData("tcp", typeof(TcpTransport))]
    [InlineData("TCP", typeof(TcpTransport))]
    [InlineData("grpc", typeof(GrpcTransport))]
    public async Task The_transport_factory_starts_the_named_kind(string name, Type expected)
    {
        await using var transport = await CollectiveTransports.StartAsync(CollectiveTransports.Parse(name), "127.0.0.1", 0);

        Assert.IsType(expected, transport);
        Assert.StartsWith("127.0.0.1:", transport.Endpoint);
    }

    [Fact]
    public void The_transport_factory_refuses_an_unknown_kind_naming_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => CollectiveTransports.Parse("nccl"));

        Assert.Contains("'tcp' or 'grpc'", error.Message);
    }

    [Fact]
    public async Task Ranks_on_different_transport_kinds_fail_at_setup_instead_of_exchanging_garbage()
    {
        // Rank 0 speaks the TCP framing, rank 1 gRPC: neither accepts the other's connection, so both time out
        // in setup, each naming the other, rather than forming a group that misreads bytes.
        await using var tcp = await TcpTransport.StartAsync("127.0.0.1", 0);
        await using var grpc = await GrpcTransport.StartAsync("127.0.0.1", 0);
        string groupId = Cluster.NewGroupId();
        string[] endpoints = [tcp.Endpoint, grpc.Endpoint];
        ProcessGroupOptions Options(int rank) => new()
        {
            GroupId = groupId,
            Rank = rank,
            WorldSize = 2,
            Endpoints = endpoints,
            Timeout = SetupTimeout,
        };

        var attempts = new[] { ProcessGroup.CreateAsync(tcp, Options(0)), ProcessGroup.CreateAsync(grpc, Options(1)) };

        for (int rank = 0; rank < 2; rank++)
        {
            var failure = await Assert.ThrowsAsync<CollectiveException>(() => attempts[rank].WaitAsync(Cluster.HangGuard));
            Assert.Equal(1 - rank, failure.PeerRank);
            Assert.Equal(0, failure.Sequence);
        }
    }

    [Theory]
    [InlineData(TransportKind.InMemory)]
    [InlineData(TransportKind.Grpc)]
    [InlineData(TransportKind.Tcp)]
    public async Task A_new_group_forms_on_the_same_transports_after_one_failed(TransportKind kind)
    {
        await using var cluster = await Cluster.CreateAsync(kind, 3);
        var first = await cluster.FormAsync(timeout: SetupTimeout);
        // Rank 2 leaves; the others' next collective fails, as after a worker loss.
        await first[2].DisposeAsync();
        var buffers = RingReference.Inputs(3, 50, seed: 4);
        foreach (var group in first[..2])
        {
            await Assert.ThrowsAsync<CollectiveException>(() => group.AllReduceAsync(buffers[0], ReduceOp.Sum)).WaitAsync(Cluster.HangGuard);
        }
        await Cluster.DisposeAllAsync(first);

        // Re-formed under a new id, as the coordinator does before resuming from a checkpoint.
        var second = await cluster.FormAsync(timeout: SetupTimeout);
        try
        {
            await Task.WhenAll(second.Select((g, rank) => g.AllReduceAsync(buffers[rank], ReduceOp.Sum))).WaitAsync(Cluster.HangGuard);
            Assert.Equal(buffers[0], buffers[1]);
            Assert.Equal(buffers[0], buffers[2]);
        }
        finally
        {
            await Cluster.DisposeAllAsync(second);
        }
    }

    /// <summary>Forms a group expecting every rank to fail; returns each rank's exception, by rank.</summary>
    private static async Task<CollectiveException[]> FormExpectingFailureAsync(Cluster cluster, Func<int, ProcessGroupOptions> options)
    {
        var attempts = cluster.Transports.Select((t, rank) => ProcessGroup.CreateAsync(t, options(rank))).ToArray();
        var failures = new CollectiveException[attempts.Length];
        for (int rank = 0; rank < attempts.Length; rank++)
        {
            failures[rank] = await Assert.ThrowsAsync<CollectiveException>(() => attempts[rank].WaitAsync(Cluster.HangGuard));
        }
        return failures;
    }
}
