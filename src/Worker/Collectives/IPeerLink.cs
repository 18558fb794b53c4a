namespace Orchestrator.Worker.Collectives;

/// <summary>An ordered, bidirectional stream of frames between two ranks.</summary>
/// <remarks>
/// Sends may be called concurrently (the link orders them); receives must not be. Disposing closes the link in an
/// orderly way: frames sent before it still reach the peer, which then sees the link end.
/// </remarks>
public interface IPeerLink : IAsyncDisposable
{
    /// <summary>Sends a frame. A chunk's payload is not read after the returned task completes.</summary>
    /// <exception cref="IOException">The link is broken or closed.</exception>
    ValueTask SendAsync(PeerFrame frame, CancellationToken cancellationToken);

    /// <summary>The peer's next frame; the caller releases chunks (<see cref="PeerFrame.Release"/>).</summary>
    /// <exception cref="IOException">The link is broken, or the peer closed it.</exception>
    ValueTask<PeerFrame> ReceiveAsync(CancellationToken cancellationToken);
}
