namespace Orchestrator.Worker.Tests.Collectives;

public enum TransportKind
{
    InMemory,
    Grpc,
    Tcp,
}
