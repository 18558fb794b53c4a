using System.Buffers;
using System.Threading.Channels;

namespace Orchestrator.Worker.Collectives;

/// <summary>One end of an in-memory link: two unbounded channels, one per direction, shared crosswise with its twin.</summary>
internal sealed class InMemoryLink : IPeerLink
{
    private readonly Channel<PeerFrame> _inbound;
    private readonly Channel<PeerFrame> _outbound;
    private readonly InMemoryTransport _owner;
    private int _closed;

    private InMemoryLink(InMemoryTransport owner, Channel<PeerFrame> inbound, Channel<PeerFrame> outbound)
    {
        _owner = owner;
        _inbound = inbound;
        _outbound = outbound;
    }

    public static (InMemoryLink Dialler, InMemoryLink Listener) CreatePair(InMemoryTransport dialler, InMemoryTransport listener)
    {
        var forward = Channel.CreateUnbounded<PeerFrame>(new UnboundedChannelOptions { SingleReader = true });
        var backward = Channel.CreateUnbounded<PeerFrame>(new UnboundedChannelOptions { SingleReader = true });
        return (new InMemoryLink(dialler, backward, forward), new InMemoryLink(listener, forward, backward));
    }

    public ValueTask SendAsync(PeerFrame frame, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _closed) != 0)
        {
            throw new IOException("The link is closed.");
        }
        if (frame.Kind == PeerFrameKind.Chunk)
        {
            // The sender reuses its buffer as soon as this returns, so the receiver gets a pooled copy.
            byte[] pooled = ArrayPool<byte>.Shared.Rent(frame.Payload.Length);
            frame.Payload.CopyTo(pooled);
            frame = PeerFrame.ForPooledChunk(frame.Chunk, pooled, frame.Payload.Length);
        }
        if (!_outbound.Writer.TryWrite(frame))
        {
            frame.Release();
            throw new IOException("The peer closed the link.");
        }
        return ValueTask.CompletedTask;
    }

    public async ValueTask<PeerFrame> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _inbound.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            throw new IOException(e.InnerException?.Message ?? "The peer closed the link.", e);
        }
    }

    public ValueTask DisposeAsync()
    {
        Close(null);
        return ValueTask.CompletedTask;
    }

    /// <summary>Ends both directions: the peer still reads what was sent before, then sees the end.</summary>
    public void Close(Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        _outbound.Writer.TryComplete(error);
        _inbound.Writer.TryComplete(error);
        _owner.Forget(this);
        // Nobody reads this side any more: give unread pooled payloads back.
        while (_inbound.Reader.TryRead(out var unread))
        {
            unread.Release();
        }
    }
}
