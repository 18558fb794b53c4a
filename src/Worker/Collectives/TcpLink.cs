using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// One end of a <see cref="TcpTransport"/> link: <see cref="TcpWire"/> frames over one socket, in both directions.
/// </summary>
/// <remarks>
/// The hot path allocates nothing per chunk: sends write a header into a per-link buffer and hand the caller's
/// payload to the kernel as it is; receives read a chunk's payload straight into an array rented from the
/// transport's payload pool (the frame's <see cref="PeerFrame.Release"/> returns it), and both async paths use
/// pooled state machines.
/// Sending and receiving are independent (one socket operation of each kind may be pending at once), so a rank
/// streams to its right-hand neighbour while its group's reader drains the left-hand one.
/// </remarks>
internal sealed class TcpLink : IPeerLink, IPlacingLink
{
    // Headers and small frames are read through this buffer, so one receive call picks up several of them; the part
    // of a payload beyond what it already holds is read straight into the payload's own array. Reduce-scatter
    // chunks are added into place through it, so it stays well inside a core's L2 (2 MiB here) while cutting the
    // receive calls per 1 MiB chunk to about four.
    private const int ReceiveBufferBytes = 256 * 1024;
    // Payloads up to this size are copied behind their header and go out in one send call: one segment on the
    // wire, which is what a small collective's latency comes down to. Larger ones go in two calls without a copy.
    private const int CoalesceBytes = 32 * 1024;
    // Long enough for the peer to read the frames sent before closing, short enough not to hold up a shutdown.
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly Socket _socket;
    private readonly TcpTransport _owner;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _sendBuffer = new byte[TcpWire.Preamble.Length + TcpWire.HeaderBytes + CoalesceBytes];
    private readonly byte[] _receiveBuffer = new byte[ReceiveBufferBytes];
    private readonly TaskCompletionSource _receiveEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Held by the reader while it reads a payload into a placement's memory, and by Place's scope while it ends:
    // once the scope's disposal returns, nothing writes into the collective's buffer any more.
    private readonly SemaphoreSlim _placing = new(1, 1);
    private IChunkPlacement? _placement;
    private int _receiveStart;
    private int _receiveEnd;
    private bool _preambleSent;
    private bool _preambleReceived;
    private PeerFrame? _peeked;
    // 1 while a receive, or the drain of an orderly close, owns the receive side.
    private int _reading;
    private int _receiveBroken;
    private int _closed;
    private int _killed;

    public TcpLink(Socket socket, TcpTransport owner, string peer)
    {
        _socket = socket;
        _owner = owner;
        Peer = peer;
    }

    /// <summary>Who is at the other end, for messages; refined once the handshake names the rank.</summary>
    public string Peer { get; set; }

    public ValueTask SendAsync(PeerFrame frame, CancellationToken cancellationToken)
    {
        if (frame.Kind == PeerFrameKind.Chunk)
        {
            if (frame.Payload.Length > TcpWire.MaxChunkBytes)
            {
                throw new ArgumentException($"Chunks hold at most {TcpWire.MaxChunkBytes} bytes.", nameof(frame));
            }
            return SendCoreAsync(TcpFrameType.Chunk, frame.Chunk, frame.Payload, cancellationToken);
        }
        // Control frames are rare (setup, heartbeats, farewells): they may allocate.
        return SendCoreAsync(TcpFrameType.Control, default, TcpWire.EncodeControl(frame), cancellationToken);
    }

    public IAsyncDisposable Place(IChunkPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        Volatile.Write(ref _placement, placement);
        return new PlacementScope(this, placement);
    }

    /// <summary>Answers a handshake with a refusal: <paramref name="final"/> when retrying cannot help.</summary>
    public ValueTask RefuseAsync(string reason, bool final, CancellationToken cancellationToken) =>
        SendCoreAsync(final ? TcpFrameType.Rejected : TcpFrameType.Refused, default, TcpWire.EncodeReason(reason), cancellationToken);

    public ValueTask<PeerFrame> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_peeked is { } peeked)
        {
            _peeked = null;
            return ValueTask.FromResult(peeked);
        }
        return ReceiveCoreAsync(cancellationToken);
    }

    /// <summary>Waits for the first frame and keeps it for the next receive: the peer routed the link, or refused it.</summary>
    public async Task PeekAsync(CancellationToken cancellationToken) =>
        _peeked = await ReceiveCoreAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Orderly close: waits for a send in progress, ends our direction (the peer reads every frame sent before, then
    /// the end), and waits briefly for the peer to end its own, so that closing does not reset the connection.
    /// </summary>
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
                    if (Volatile.Read(ref _killed) == 0)
                    {
                        _socket.Shutdown(SocketShutdown.Send);
                    }
                }
                finally
                {
                    _writeLock.Release();
                }
                if (Interlocked.CompareExchange(ref _reading, 1, 0) == 0)
                {
                    // Nobody reads: read on ourselves until the peer's end, discarding what comes.
                    try
                    {
                        await DrainAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        Volatile.Write(ref _reading, 0);
                    }
                }
                else
                {
                    // The group's reader is on it and will see the end.
                    await _receiveEnded.Task.WaitAsync(CloseGrace).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or TimeoutException or OperationCanceledException)
        {
            // The link is already broken or the peer is slow to finish: nothing more to say, close it below.
        }
        Kill();
    }

    /// <summary>Closes the socket without a word, as when the process dies: pending operations fail at once.</summary>
    public void Kill()
    {
        Volatile.Write(ref _closed, 1);
        if (Interlocked.Exchange(ref _killed, 1) != 0)
        {
            return;
        }
        _socket.Dispose();
        Interlocked.Exchange(ref _receiveBroken, 1);
        _receiveEnded.TrySetResult();
        _owner.Forget(this);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendCoreAsync(
        TcpFrameType type, ChunkHeader chunk, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool started = false;
        try
        {
            if (Volatile.Read(ref _closed) != 0 || _owner.IsDisposed)
            {
                throw new IOException($"The link to {Peer} is closed.");
            }
            int at = 0;
            if (!_preambleSent)
            {
                TcpWire.Preamble.CopyTo(_sendBuffer);
                at = TcpWire.Preamble.Length;
                _preambleSent = true;
            }
            if (type == TcpFrameType.Chunk)
            {
                TcpWire.WriteChunkHeader(_sendBuffer.AsSpan(at), chunk, body.Length);
            }
            else
            {
                TcpWire.WriteHeader(_sendBuffer.AsSpan(at), type, body.Length);
            }
            at += TcpWire.HeaderBytes;
            if (body.Length <= CoalesceBytes)
            {
                body.Span.CopyTo(_sendBuffer.AsSpan(at));
                at += body.Length;
                body = default;
            }
            started = true;
            await SendAllAsync(_sendBuffer.AsMemory(0, at), cancellationToken).ConfigureAwait(false);
            if (!body.IsEmpty)
            {
                await SendAllAsync(body, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (started)
        {
            // A frame cut short leaves the stream unreadable for the peer: the link cannot be used any more.
            Kill();
            throw;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Kill();
            throw new IOException($"Sending to {Peer} failed: {e.Message}", e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await _socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PeerFrame> ReceiveCoreAsync(CancellationToken cancellationToken)
    {
        // Receives never overlap (IPeerLink's contract); only the drain of an orderly close competes for this.
        if (Interlocked.CompareExchange(ref _reading, 1, 0) != 0)
        {
            throw new IOException($"The link to {Peer} is closed.");
        }
        try
        {
            if (Volatile.Read(ref _receiveBroken) != 0)
            {
                throw new IOException($"The link to {Peer} is closed or broken.");
            }
            if (!_preambleReceived)
            {
                await FillAsync(TcpWire.Preamble.Length, frameStart: true, cancellationToken).ConfigureAwait(false);
                if (!_receiveBuffer.AsSpan(_receiveStart, TcpWire.Preamble.Length).SequenceEqual(TcpWire.Preamble))
                {
                    throw new InvalidDataException("the peer does not speak the collective TCP protocol (is it a gRPC endpoint?)");
                }
                _receiveStart += TcpWire.Preamble.Length;
                _preambleReceived = true;
            }
            if (_receiveEnd - _receiveStart < TcpWire.HeaderBytes)
            {
                await FillAsync(TcpWire.HeaderBytes, frameStart: true, cancellationToken).ConfigureAwait(false);
            }
            var header = TcpWire.ReadHeader(_receiveBuffer.AsSpan(_receiveStart, TcpWire.HeaderBytes));
            _receiveStart += TcpWire.HeaderBytes;
            if (header.Type == TcpFrameType.Chunk)
            {
                if (header.BodyBytes == 0)
                {
                    return PeerFrame.ForChunk(header.Chunk, ReadOnlyMemory<byte>.Empty);
                }
                if (Volatile.Read(ref _placement) is not null && _placing.Wait(0))
                {
                    try
                    {
                        // Read again under the gate: a scope that ended before we took it has cleared it.
                        var target = Volatile.Read(ref _placement)?.TargetFor(header.Chunk, header.BodyBytes) ?? default;
                        if (target.Memory.Length == header.BodyBytes)
                        {
                            if (target.Mode == PlacementMode.Copy)
                            {
                                await ReadExactAsync(target.Memory, cancellationToken).ConfigureAwait(false);
                            }
                            else
                            {
                                await ReduceIntoAsync(target, cancellationToken).ConfigureAwait(false);
                            }
                            return PeerFrame.ForChunk(header.Chunk, target.Memory);
                        }
                    }
                    finally
                    {
                        _placing.Release();
                    }
                }
                var pool = _owner.PayloadPool;
                byte[] pooled = pool.Rent(header.BodyBytes);
                try
                {
                    await ReadExactAsync(pooled.AsMemory(0, header.BodyBytes), cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    pool.Return(pooled);
                    throw;
                }
                return PeerFrame.ForPooledChunk(header.Chunk, pooled, header.BodyBytes, pool);
            }
            var body = new byte[header.BodyBytes];
            await ReadExactAsync(body, cancellationToken).ConfigureAwait(false);
            if (header.Type == TcpFrameType.Control)
            {
                return TcpWire.DecodeControl(body);
            }
            throw new TcpRefusedException(TcpWire.DecodeReason(body), final: header.Type == TcpFrameType.Rejected);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidDataException)
        {
            EndReceiving();
            throw new IOException($"The link to {Peer} broke: {e.Message}", e);
        }
        catch (Exception)
        {
            // Cancelled or ended, possibly in the middle of a frame: later receives cannot resynchronise.
            EndReceiving();
            throw;
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    /// <summary>Reads until the buffer holds at least <paramref name="count"/> unread bytes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(int count, bool frameStart, CancellationToken cancellationToken)
    {
        if (_receiveStart == _receiveEnd)
        {
            _receiveStart = _receiveEnd = 0;
        }
        else if (_receiveBuffer.Length - _receiveStart < count)
        {
            Buffer.BlockCopy(_receiveBuffer, _receiveStart, _receiveBuffer, 0, _receiveEnd - _receiveStart);
            _receiveEnd -= _receiveStart;
            _receiveStart = 0;
        }
        while (_receiveEnd - _receiveStart < count)
        {
            int got = await _socket.ReceiveAsync(_receiveBuffer.AsMemory(_receiveEnd), SocketFlags.None, cancellationToken)
                .ConfigureAwait(false);
            if (got == 0)
            {
                throw new IOException(frameStart && _receiveEnd == _receiveStart
                    ? $"{Peer} ended the link."
                    : $"{Peer} ended the link in the middle of a frame.");
            }
            _receiveEnd += got;
        }
    }

    /// <summary>Fills <paramref name="destination"/>: first from the buffer, then large remainders straight from the socket.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadExactAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        int buffered = Math.Min(_receiveEnd - _receiveStart, destination.Length);
        _receiveBuffer.AsSpan(_receiveStart, buffered).CopyTo(destination.Span);
        _receiveStart += buffered;
        destination = destination[buffered..];
        if (destination.IsEmpty)
        {
            return;
        }
        if (destination.Length < ReceiveBufferBytes / 2)
        {
            // Small: one read may bring the following frames too.
            await FillAsync(destination.Length, frameStart: false, cancellationToken).ConfigureAwait(false);
            _receiveBuffer.AsSpan(_receiveStart, destination.Length).CopyTo(destination.Span);
            _receiveStart += destination.Length;
            return;
        }
        while (!destination.IsEmpty)
        {
            int got = await _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw new IOException($"{Peer} ended the link in the middle of a frame.");
            }
            destination = destination[got..];
        }
    }

    /// <summary>
    /// Adds the payload into <paramref name="target"/> through the receive buffer, a buffer's worth at a time, so
    /// that the reduction reads bytes the kernel has just written into the cache rather than a pooled array that
    /// waited in a queue until it went cold.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReduceIntoAsync(ChunkTarget target, CancellationToken cancellationToken)
    {
        int total = target.Memory.Length;
        int done = 0;
        while (done < total)
        {
            if (_receiveEnd - _receiveStart < sizeof(float))
            {
                await FillAsync(sizeof(float), frameStart: false, cancellationToken).ConfigureAwait(false);
            }
            // Whole floats only; a float split across reads waits in the buffer for its other bytes.
            int usable = Math.Min(_receiveEnd - _receiveStart, total - done) & ~(sizeof(float) - 1);
            Reduce(target, done, usable);
            _receiveStart += usable;
            done += usable;
        }
    }

    private void Reduce(in ChunkTarget target, int offset, int bytes)
    {
        var destination = MemoryMarshal.Cast<byte, float>(target.Memory.Span.Slice(offset, bytes));
        var source = _receiveBuffer.AsSpan(_receiveStart, bytes);
        if (target.Mode == PlacementMode.Add)
        {
            FloatReduction.Add(destination, source);
        }
        else
        {
            FloatReduction.AddThenDivide(destination, source, target.Divisor);
        }
    }

    private async Task DrainAsync()
    {
        if (Volatile.Read(ref _receiveBroken) != 0)
        {
            return;
        }
        using var grace = new CancellationTokenSource(CloseGrace);
        while (await _socket.ReceiveAsync(_receiveBuffer, SocketFlags.None, grace.Token).ConfigureAwait(false) > 0)
        {
        }
        EndReceiving();
    }

    private void EndReceiving()
    {
        Interlocked.Exchange(ref _receiveBroken, 1);
        _receiveEnded.TrySetResult();
    }

    /// <summary>Ends a placement: later chunks go to pooled arrays, and a placed read in progress is waited for.</summary>
    private sealed class PlacementScope(TcpLink link, IChunkPlacement placement) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Interlocked.CompareExchange(ref link._placement, null, placement);
            // A read in progress ends with its data, or when the link breaks (a failed group's teardown closes it).
            await link._placing.WaitAsync().ConfigureAwait(false);
            link._placing.Release();
        }
    }
}
