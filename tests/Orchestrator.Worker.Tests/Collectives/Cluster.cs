using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>One transport per rank, either in memory or real gRPC or TCP servers on 127.0.0.1, and helpers to form groups over them.</summary>
public sealed class Cluster : IAsyncDisposable
{
    // Guards every wait in these tests against a hang; never an expectation about speed.
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private readonly bool _owned;

    private Cluster(IReadOnlyList<ICollectiveTransport> transports, bool owned, bool sharedMemory = false)
    {
        Transports = transports;
        _owned = owned;
        SharedMemory = sharedMemory;
    }

    /// <summary>Whether the groups formed here all-reduce through shared memory; otherwise around the ring, whatever the environment says.</summary>
    public bool SharedMemory { get; }

    public IReadOnlyList<ICollectiveTransport> Transports { get; }

    public int WorldSize => Transports.Count;

    public IReadOnlyList<string> Endpoints => Transports.Select(t => t.Endpoint).ToArray();

    public static Cluster InMemory(int worldSize)
    {
        var network = new InMemoryNetwork();
        return new Cluster(Enumerable.Range(0, worldSize).Select(r => network.CreateTransport($"rank-{r}")).ToArray(), owned: true);
    }

    public static async Task<Cluster> GrpcAsync(int worldSize)
    {
        var transports = await Task.WhenAll(Enumerable.Range(0, worldSize).Select(_ => GrpcTransport.StartAsync("127.0.0.1", 0)));
        return new Cluster(transports, owned: true);
    }

    public static async Task<Cluster> TcpAsync(int worldSize)
    {
        var transports = await Task.WhenAll(Enumerable.Range(0, worldSize).Select(_ => TcpTransport.StartAsync("127.0.0.1", 0)));
        return new Cluster(transports, owned: true);
    }

    /// <summary>TCP transports whose groups all-reduce through shared memory.</summary>
    public static async Task<Cluster> SharedMemoryAsync(int worldSize)
    {
        var transports = await Task.WhenAll(Enumerable.Range(0, worldSize).Select(_ => TcpTransport.StartAsync("127.0.0.1", 0)));
        return new Cluster(transports, owned: true, sharedMemory: true);
    }

    /// <summary>The first ranks of long-lived transports; disposing the cluster leaves them running.</summary>
    public static Cluster Borrow(IReadOnlyList<ICollectiveTransport> transports, int worldSize, bool sharedMemory = false) =>
        new(transports.Take(worldSize).ToArray(), owned: false, sharedMemory);

    public ProcessGroupOptions Options(
        int rank,
        string groupId,
        int chunkBytes = 64,
        TimeSpan? timeout = null,
        string fingerprint = "G:[64,100];D:[1,64];buckets:2") => new()
        {
            GroupId = groupId,
            Rank = rank,
            WorldSize = WorldSize,
            Endpoints = Endpoints,
            ChunkBytes = chunkBytes,
            Timeout = timeout ?? TimeSpan.FromSeconds(20),
            LayoutFingerprint = fingerprint,
            SharedMemory = SharedMemory,
        };

    /// <summary>Forms a group on every rank at once; <paramref name="options"/> defaults to <see cref="Options"/>.</summary>
    public async Task<ProcessGroup[]> FormAsync(
        Func<int, ProcessGroupOptions>? options = null, int chunkBytes = 64, TimeSpan? timeout = null)
    {
        string groupId = NewGroupId();
        options ??= rank => Options(rank, groupId, chunkBytes, timeout);
        return await Task.WhenAll(Transports.Select((t, rank) => ProcessGroup.CreateAsync(t, options(rank)))).WaitAsync(HangGuard);
    }

    public static string NewGroupId() => "g-" + Guid.NewGuid().ToString("N")[..12];

    public async ValueTask DisposeAsync()
    {
        if (_owned)
        {
            foreach (var transport in Transports)
            {
                await transport.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Every rank all-reduces its own seeded input of <paramref name="length"/> floats at once; each must end with the
    /// ring-order reference, bit for bit.
    /// </summary>
    public static async Task AssertAllReduceMatchesReferenceAsync(IReadOnlyList<ProcessGroup> groups, int length, int seed, ReduceOp op)
    {
        var inputs = RingReference.Inputs(groups.Count, length, seed);
        var buffers = inputs.Select(input => input.ToArray()).ToArray();

        await Task.WhenAll(groups.Select((g, rank) => g.AllReduceAsync(buffers[rank], op))).WaitAsync(HangGuard);

        var expected = RingReference.AllReduce(inputs, op).Select(BitConverter.SingleToInt32Bits).ToArray();
        Assert.All(buffers, buffer => Assert.Equal(expected, buffer.Select(BitConverter.SingleToInt32Bits).ToArray()));
    }

    public static async Task DisposeAllAsync(IEnumerable<ProcessGroup> groups)
    {
        foreach (var group in groups)
        {
            await group.DisposeAsync();
        }
    }

    public static async Task<Cluster> CreateAsync(TransportKind kind, int worldSize) => kind switch
    {
        TransportKind.InMemory => InMemory(worldSize),
        TransportKind.Grpc => await GrpcAsync(worldSize),
        TransportKind.Tcp => await TcpAsync(worldSize),
        TransportKind.SharedMemory => await SharedMemoryAsync(worldSize),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
