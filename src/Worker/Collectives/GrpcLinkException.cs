using Grpc.Core;

namespace Orchestrator.Worker.Collectives;

/// <summary>A gRPC link failed with a status; connecting uses the status to tell "try again" from "refused".</summary>
internal sealed class GrpcLinkException(StatusCode status, string message, Exception inner) : IOException(message, inner)
{
    public StatusCode Status { get; } = status;
}
