using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>
/// Five gRPC and five TCP transports on 127.0.0.1 shared by a test class: one process's transport serves group
/// after group, as a worker's does.
/// </summary>
public sealed class TransportsFixture : IAsyncLifetime
{
    private const int Ranks = 5;

    public IReadOnlyList<ICollectiveTransport> Grpc { get; private set; } = [];

    public IReadOnlyList<ICollectiveTransport> Tcp { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Grpc = await Task.WhenAll(Enumerable.Range(0, Ranks).Select(_ => GrpcTransport.StartAsync("127.0.0.1", 0)));
        Tcp = await Task.WhenAll(Enumerable.Range(0, Ranks).Select(_ => TcpTransport.StartAsync("127.0.0.1", 0)));
    }

    public async Task DisposeAsync()
    {
        foreach (var transport in Grpc.Concat(Tcp))
        {
            await transport.DisposeAsync();
        }
    }

    public Task<Cluster> ClusterAsync(TransportKind kind, int worldSize) => Task.FromResult(kind switch
    {
        TransportKind.InMemory => Cluster.InMemory(worldSize),
        TransportKind.Grpc => Cluster.Borrow(Grpc, worldSize),
        TransportKind.Tcp => Cluster.Borrow(Tcp, worldSize),
        TransportKind.SharedMemory => Cluster.Borrow(Tcp, worldSize, sharedMemory: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    });
}
