namespace Orchestrator.Worker.Collectives;

/// <summary>Which transport carries a process group's links between processes.</summary>
public enum CollectiveTransportKind
{
    /// <summary>Plain TCP sockets (<see cref="TcpTransport"/>): the default, several times faster than gRPC.</summary>
    Tcp,

    /// <summary>gRPC over HTTP/2 (<see cref="GrpcTransport"/>): for networks that only pass HTTP/2.</summary>
    Grpc,
}
