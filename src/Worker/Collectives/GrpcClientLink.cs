using Grpc.Core;

namespace Orchestrator.Worker.Collectives;

/// <summary>The dialling end of a gRPC link: frames go down the Exchange call's request stream and come back on its response stream.</summary>
internal sealed class GrpcClientLink : IPeerLink
{
    // Long enough for the peer to read the frames sent before closing, short enough not to hold up a shutdown.
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly AsyncDuplexStreamingCall<PeerEnvelope, PeerEnvelope> _call;
    private readonly CancellationTokenSource _callCancellation;
    private readonly GrpcTransport _owner;
    private readonly string _endpoint;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly TaskCompletionSource _responseEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PeerFrame? _peeked;
    private int _reading;
    private int _closed;

    public GrpcClientLink(
        AsyncDuplexStreamingCall<PeerEnvelope, PeerEnvelope> call,
        CancellationTokenSource callCancellation,
        GrpcTransport owner,
        string endpoint)
    {
        _call = call;
        _callCancellation = callCancellation;
        _owner = owner;
        _endpoint = endpoint;
    }

    public async ValueTask SendAsync(PeerFrame frame, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _closed) != 0 || _owner.IsDisposed)
            {
                throw new IOException($"The link to {_endpoint} is closed.");
            }
            await _call.RequestStream.WriteAsync(new PeerEnvelope(frame), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or ObjectDisposedException)
        {
            throw new IOException($"Sending to {_endpoint} failed: {Describe(e)}", e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public ValueTask<PeerFrame> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_peeked is { } peeked)
        {
            _peeked = null;
            return ValueTask.FromResult(peeked);
        }
        return ReceiveCoreAsync(cancellationToken);
    }

    /// <summary>Waits for the first frame and keeps it for the next receive: the peer routed the call, or refused it.</summary>
    public async Task PeekAsync(CancellationToken cancellationToken) =>
        _peeked = await ReceiveCoreAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        try
        {
            if (await _writeLock.WaitAsync(CloseGrace).ConfigureAwait(false))
            {
                try
                {
                    await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
                }
                finally
                {
                    _writeLock.Release();
                }
                // Cancelling the call now could reset the stream before the peer read our last frames; the peer ends
                // the response once it has. The group's reader sees that end, or, when none is reading, we look for it.
                if (Volatile.Read(ref _reading) == 0)
                {
                    using var grace = new CancellationTokenSource(CloseGrace);
                    while (await _call.ResponseStream.MoveNext(grace.Token).ConfigureAwait(false))
                    {
                        _call.ResponseStream.Current.Frame.Release();
                    }
                }
                else
                {
                    await _responseEnded.Task.WaitAsync(CloseGrace).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // The call is already broken or the peer is slow to finish: nothing more to say, cancel it below.
        }
        Kill();
    }

    /// <summary>Cancels the call without a word, as when the process dies.</summary>
    public void Kill()
    {
        Volatile.Write(ref _closed, 1);
        _callCancellation.Cancel();
        _call.Dispose();
        _responseEnded.TrySetResult();
        _owner.Forget(this);
    }

    private async ValueTask<PeerFrame> ReceiveCoreAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reading);
        try
        {
            if (!await _call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                _responseEnded.TrySetResult();
                throw new IOException($"{_endpoint} ended the link.");
            }
            return _call.ResponseStream.Current.Frame;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            _responseEnded.TrySetResult();
            throw new OperationCanceledException(cancellationToken);
        }
        catch (RpcException e)
        {
            _responseEnded.TrySetResult();
            throw new GrpcLinkException(e.StatusCode, $"The link to {_endpoint} broke: {Describe(e)}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or InvalidDataException)
        {
            _responseEnded.TrySetResult();
            throw new IOException($"The link to {_endpoint} broke: {e.Message}", e);
        }
        finally
        {
            Interlocked.Decrement(ref _reading);
        }
    }

    private static string Describe(Exception e) =>
        e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
}
