using Grpc.Core;

namespace Orchestrator.Worker.Collectives;

/// <summary>The CollectivePeer gRPC service: reads the handshake, hands the call to the group as a link, and holds the call open for it.</summary>
/// <remarks>Bound by hand rather than derived from the generated base, to use <see cref="PeerWire"/>'s marshaller.</remarks>
[BindServiceMethod(typeof(CollectivePeerService), nameof(BindService))]
// Not sealed, Exchange virtual: gRPC's binder only accepts a handler that is a virtual method of the bound type.
internal class CollectivePeerService(GrpcTransport transport)
{
    // A connection that never says who it is must not hold a handler forever.
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(30);

    public static void BindService(ServiceBinderBase binder, CollectivePeerService? service) =>
        binder.AddMethod(PeerWire.Exchange, service is null ? null : service.Exchange);

    public virtual async Task Exchange(
        IAsyncStreamReader<PeerEnvelope> requestStream,
        IServerStreamWriter<PeerEnvelope> responseStream,
        ServerCallContext context)
    {
        using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        handshakeTimeout.CancelAfter(HandshakeTimeout);
        if (!await requestStream.MoveNext(handshakeTimeout.Token).ConfigureAwait(false))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The call ended before its handshake."));
        }
        if (requestStream.Current.Frame.Kind != PeerFrameKind.Handshake)
        {
            requestStream.Current.Frame.Release();
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The first message must be a handshake."));
        }
        var handshake = requestStream.Current.Frame.Handshake!;
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
