namespace Orchestrator.Worker.Tests.Collectives;

public enum TransportKind
{
    InMemory,
    Grpc,
    Tcp,
    /// <summary>TCP links, all-reduces through shared memory (what a group on one host uses by default).</summary>
    SharedMemory,
}
