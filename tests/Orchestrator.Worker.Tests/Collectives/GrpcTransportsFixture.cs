using Orchestrator.Worker.Collectives;

namespace Orchestrator.Worker.Tests.Collectives;

/// <summary>Five gRPC transports on 127.0.0.1 shared by a test class: one process's transport serves group after group.</summary>
public sealed class GrpcTransportsFixture : IAsyncLifetime
{
    public IReadOnlyList<ICollectiveTransport> Transports { get; private set; } = [];

    public async Task InitializeAsync() =>
        Transports = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => GrpcTransport.StartAsync("127.0.0.1", 0)));

    public async Task DisposeAsync()
    {
        foreach (var transport in Transports)
        {
            await transport.DisposeAsync();
        }
    }

    public Task<Cluster> ClusterAsync(TransportKind kind, int worldSize) =>
        kind == TransportKind.InMemory ? Task.FromResult(Cluster.InMemory(worldSize)) : Task.FromResult(Cluster.Borrow(Transports, worldSize));
}
