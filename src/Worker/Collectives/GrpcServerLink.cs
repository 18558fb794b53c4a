using Grpc.Core;

namespace Orchestrator.Worker.Collectives;

/// <summary>The accepting end of a gRPC link: the Exchange handler's request stream in, its response stream out.</summary>
internal sealed class GrpcServerLink : IPeerLink
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly IAsyncStreamReader<PeerEnvelope> _requests;
    private readonly IServerStreamWriter<PeerEnvelope> _responses;
    private readonly GrpcTransport _owner;
    private readonly string _peer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    // The handler returns when this completes, which ends the call: normally for an orderly close, with an error when killed.
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closed;

    public GrpcServerLink(
        IAsyncStreamReader<PeerEnvelope> requests,
        IServerStreamWriter<PeerEnvelope> responses,
        GrpcTransport owner,
        string peer)
    {
        _requests = requests;
        _responses = responses;
        _owner = owner;
        _peer = peer;
    }

    public Task Done => _done.Task;

    public async ValueTask SendAsync(PeerFrame frame, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _closed) != 0 || _owner.IsDisposed)
            {
                throw new IOException($"The link from {_peer} is closed.");
            }
            await _responses.WriteAsync(new PeerEnvelope(frame), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or ObjectDisposedException)
        {
            throw new IOException($"Sending to {_peer} failed: {e.Message}", e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async ValueTask<PeerFrame> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (!await _requests.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                throw new IOException($"{_peer} ended the link.");
            }
            return _requests.Current.Frame;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new IOException($"The link from {_peer} broke: {e.Message}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        // Let a write in progress finish so the frames sent before closing are whole on the wire.
        if (await _writeLock.WaitAsync(CloseGrace).ConfigureAwait(false))
        {
            _writeLock.Release();
        }
        _done.TrySetResult();
        _owner.Forget(this);
    }

    /// <summary>Resets the call without a word, as when the process dies.</summary>
    public void Kill()
    {
        Volatile.Write(ref _closed, 1);
        _done.TrySetException(new IOException("The transport shut down."));
        _owner.Forget(this);
    }
}
