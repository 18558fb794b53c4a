namespace Orchestrator.Worker.Collectives;

/// <summary>Point-to-point links between the ranks of process groups; one transport per process serves many groups.</summary>
public interface ICollectiveTransport : IAsyncDisposable
{
    /// <summary>Where peers reach this transport (host:port for gRPC, a name for the in-memory one).</summary>
    string Endpoint { get; }

    /// <summary>
    /// Opens a link to the transport at <paramref name="endpoint"/> and sends <paramref name="handshake"/>. Returns
    /// once that transport has handed the link to the group's acceptor, so the peer's answer to the handshake is the
    /// link's next frame. Retries while the peer does not host the group yet.
    /// </summary>
    /// <exception cref="IOException">
    /// The peer refused the group for good (it gave up on it), or <paramref name="cancellationToken"/> fired while
    /// retrying; the message says why the last attempt failed.
    /// </exception>
    Task<IPeerLink> ConnectAsync(string endpoint, GroupHandshake handshake, CancellationToken cancellationToken);

    /// <summary>Waits for the one peer that connects for <paramref name="groupId"/>.</summary>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> fired; the message lists connections refused meanwhile (a peer with
    /// another group id), which is usually why none arrived.
    /// </exception>
    Task<AcceptedPeer> AcceptAsync(string groupId, CancellationToken cancellationToken);

    /// <summary>Refuses later connections for a group that failed or ended, with <paramref name="reason"/>, instead of letting peers retry until they time out.</summary>
    void Retire(string groupId, string reason);
}
