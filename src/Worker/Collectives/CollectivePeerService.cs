using Grpc.Core;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Worker.Collectives;

/// <summary>The CollectivePeer gRPC service: reads the handshake, hands the call to the group as a link, and holds the call open for it.</summary>
internal sealed class CollectivePeerService(GrpcTransport transport) : Proto.CollectivePeer.CollectivePeerBase
{
    // A connection that never says who it is must not hold a handler forever.
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(30);

    public override async Task Exchange(
        IAsyncStreamReader<Proto.PeerMessage> requestStream,
        IServerStreamWriter<Proto.PeerMessage> responseStream,
        ServerCallContext context)
    {
        using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        handshakeTimeout.CancelAfter(HandshakeTimeout);
        if (!await requestStream.MoveNext(handshakeTimeout.Token).ConfigureAwait(false) ||
            requestStream.Current.BodyCase != Proto.PeerMessage.BodyOneofCase.Handshake)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The first message must be a handshake."));
        }
        var handshake = PeerMessages.ToHandshake(requestStream.Current.Handshake);
        var link = new GrpcServerLink(requestStream, responseStream, transport, $"rank {handshake.Rank} ({context.Peer})");
        var route = transport.Route(handshake, link);
        switch (route.Outcome)
        {
            case RouteOutcome.NotHosted:
                throw new RpcException(new Status(StatusCode.NotFound, route.Reason!));
            case RouteOutcome.Refused:
                throw new RpcException(new Status(StatusCode.FailedPrecondition, route.Reason!));
        }
        using (context.CancellationToken.Register(link.Kill))
        {
            await link.Done.ConfigureAwait(false);
        }
    }
}
