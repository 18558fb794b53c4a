using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;

namespace Orchestrator.Worker.Collectives;

/// <summary>A fixed group of ranks running collectives around a ring, with failure detection: TorchSharp's missing torch.distributed process group.</summary>
/// <remarks>
/// Every rank calls the same collectives in the same order, one at a time; each gets the next sequence number (0 is
/// setup: a barrier, then the choice of all-reduce path). When every rank runs on one host, all-reduces go through
/// shared memory (<see cref="SharedMemoryAllReduce"/>, same numbers as the ring) while the links still carry
/// heartbeats, failures, broadcasts and barriers. A neighbour that goes quiet, a collective that makes no progress, or a peer that
/// drops its connection fails the group on every rank within <see cref="ProcessGroupOptions.Timeout"/> (plus one
/// heartbeat interval) with a <see cref="CollectiveException"/> naming the rank held responsible; the group cannot
/// be used after that: form a new one with a new group id.
/// </remarks>
public sealed class ProcessGroup : IAsyncDisposable, IRingExchange, ICommunicator, ISplitAllReduce, IChunkPlacementHost
{
    // Farewells (abort, goodbye) go out before links close; a peer too slow to take them is not waited for.
    private static readonly TimeSpan FarewellTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan FaultGrace = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MinHeartbeatInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxHeartbeatInterval = TimeSpan.FromSeconds(1);

    private readonly ICollectiveTransport _transport;
    private readonly ProcessGroupOptions _options;
    private readonly PeerState? _left;
    private readonly PeerState? _right;
    // Chunks from the left-hand neighbour, in the order it sent them; several collectives' worth can queue.
    private readonly Channel<PeerFrame> _chunks =
        Channel.CreateUnbounded<PeerFrame>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    // Cancelled when the group fails or is disposed: wakes collectives waiting for data.
    private readonly CancellationTokenSource _failed = new();
    // Cancelled once the links are closed: stops the readers and any send stuck on a stalled peer.
    private readonly CancellationTokenSource _linksDown = new();
    private readonly RingAllReduce _allReduce;
    private readonly RingBroadcast _broadcast;
    private readonly RingBarrier _barrier;
    private readonly Func<string?> _strayFrame;
    private SharedMemoryAllReduce? _shm;
    // The split all-reduce between BeginAllReduce and EndAllReduce (one at a time, like every collective).
    private SplitCall _split;
    private bool _splitting;
    private readonly TimeSpan _heartbeatInterval;
    private readonly long _timeoutTicks;
    private readonly long _quietTicks;
    private readonly object _gate = new();
    private CollectiveException? _fault;
    // Set when the first failure recorded is a symptom (see Fail); completed when a neighbour's cause replaces it.
    private TaskCompletionSource? _symptom;
    private Task? _teardown;
    private Task _background = Task.CompletedTask;
    private long _sequence = -1;
    private long _completed = -1;
    private long _active = -1;
    private long _armedSequence = -1;
    private long _lastProgress;
    private int _busy;
    private int _disposed;

    private ProcessGroup(ICollectiveTransport transport, ProcessGroupOptions options, PeerState? left, PeerState? right)
    {
        _transport = transport;
        _options = options;
        _left = left;
        _right = right;
        _allReduce = new RingAllReduce(this, options.ChunkBytes);
        _broadcast = new RingBroadcast(this, options.ChunkBytes);
        _barrier = new RingBarrier(this);
        // A ring frame arriving during a shared-memory all-reduce means some rank runs another collective.
        _strayFrame = () => _chunks.Reader.TryPeek(out var frame) ? $"rank {_left!.Rank} sent {frame.Chunk}" : null;
        var interval = options.Timeout / 10;
        _heartbeatInterval = interval < MinHeartbeatInterval ? MinHeartbeatInterval
            : interval > MaxHeartbeatInterval ? MaxHeartbeatInterval : interval;
        _timeoutTicks = (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency);
        // A neighbour that missed three heartbeats is the prime suspect when a collective stalls.
        _quietTicks = (long)(3 * _heartbeatInterval.TotalSeconds * Stopwatch.Frequency);
    }

    public string GroupId => _options.GroupId;

    public int Rank => _options.Rank;

    public int WorldSize => _options.WorldSize;

    /// <summary>The sequence number of the last collective started on this rank (0: the setup barrier).</summary>
    public long Sequence => Math.Max(0, Volatile.Read(ref _sequence));

    /// <summary>Why the group failed, or null while it works.</summary>
    public CollectiveException? Fault => Volatile.Read(ref _fault);

    /// <summary>Whether all-reduces go through shared memory (every rank on this host) rather than around the ring.</summary>
    public bool UsesSharedMemory => _shm is not null;

    /// <summary>Why a group of several ranks all-reduces around the ring instead of through shared memory; null when it does not.</summary>
    public string? SharedMemoryUnavailable { get; private set; }

    /// <summary>The shared-memory segment's path (its name is removed once every rank has mapped it); null on the ring.</summary>
    internal string? SharedMemorySegmentPath => _shm?.Path;

    /// <summary>How this group all-reduces, for logs: "shared memory" or "ring (why not shared memory)".</summary>
    public string AllReducePath => WorldSize == 1 ? "none (one rank)"
        : _shm is not null ? "shared memory (every rank on this host)"
        : $"ring ({SharedMemoryUnavailable})";

    /// <summary>
    /// Connects this rank to its neighbours, checks that both agree on the group id, world size, ranks, chunk size
    /// and layout fingerprint, and waits until every rank has done so (the ranks agree pairwise around the ring,
    /// hence all agree).
    /// </summary>
    /// <exception cref="CollectiveException">A peer disagrees (the message names what differs) or did not answer in time.</exception>
    public static async Task<ProcessGroup> CreateAsync(
        ICollectiveTransport transport, ProcessGroupOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!BitConverter.IsLittleEndian)
        {
            // Payloads are the buffers' raw bytes, read as little-endian floats by every rank.
            throw new PlatformNotSupportedException("Collectives need a little-endian machine.");
        }
        ProcessGroup group;
        if (options.WorldSize == 1)
        {
            group = new ProcessGroup(transport, options, null, null);
        }
        else
        {
            var (left, right) = await ConnectNeighboursAsync(transport, options, cancellationToken).ConfigureAwait(false);
            group = new ProcessGroup(transport, options, left, right);
            group._background = Task.WhenAll(group.ReadAsync(left), group.ReadAsync(right), group.WatchAsync());
        }
        try
        {
            await group.RunCollectiveAsync(async (sequence, ct) =>
            {
                await group._barrier.RunAsync(sequence, ct).ConfigureAwait(false);
                if (group.WorldSize > 1)
                {
                    await group.ChooseAllReducePathAsync(sequence, ct).ConfigureAwait(false);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await group.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return group;
    }

    /// <summary>Reduces <paramref name="buffer"/> across all ranks in place; every rank ends with the same bits.</summary>
    /// <remarks>All ranks pass buffers of the same length. See <see cref="RingAllReduce"/> for the summation order.
    /// Through shared memory the collective blocks a thread while it waits, so this runs it on one of its own; the
    /// training loop calls <see cref="AllReduce"/> instead.</remarks>
    public Task AllReduceAsync(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default)
    {
        CheckAllReduce(buffer, op);
        if (_shm is not null)
        {
            return Task.Factory.StartNew(
                () => RunSharedMemoryAllReduce(buffer, op, cancellationToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        return RunCollectiveAsync((sequence, ct) => _allReduce.RunAsync(buffer, op, sequence, ct), cancellationToken);
    }

    /// <summary><see cref="AllReduceAsync"/> on the calling thread: through shared memory without a thread hop or an allocation.</summary>
    public void AllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default)
    {
        if (_shm is null)
        {
            AllReduceAsync(buffer, op, cancellationToken).GetAwaiter().GetResult();
            return;
        }
        CheckAllReduce(buffer, op);
        RunSharedMemoryAllReduce(buffer, op, cancellationToken);
    }

    private static void CheckAllReduce(Memory<float> buffer, ReduceOp op)
    {
        if (!Enum.IsDefined(op))
        {
            throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown reduce operation.");
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buffer.Length, int.MaxValue / sizeof(float), nameof(buffer));
    }

    /// <summary>Copies rank <paramref name="root"/>'s buffer into every other rank's (same length on all ranks).</summary>
    public Task BroadcastAsync(Memory<byte> buffer, int root, CancellationToken cancellationToken = default)
    {
        CheckRoot(root);
        return RunCollectiveAsync((sequence, ct) => _broadcast.RunAsync(buffer, root, sequence, ct), cancellationToken);
    }

    /// <summary>Copies rank <paramref name="root"/>'s floats into every other rank's buffer (same length on all ranks).</summary>
    public async Task BroadcastAsync(Memory<float> buffer, int root, CancellationToken cancellationToken = default)
    {
        CheckRoot(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buffer.Length, int.MaxValue / sizeof(float), nameof(buffer));
        using var bytes = new FloatByteMemory(buffer);
        await BroadcastAsync(bytes.Memory, root, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns once every rank has entered this barrier.</summary>
    public Task BarrierAsync(CancellationToken cancellationToken = default) =>
        RunCollectiveAsync((sequence, ct) => _barrier.RunAsync(sequence, ct), cancellationToken);

    /// <summary>
    /// Leaves the group: neighbours are told which collective this rank completed last, so collectives they are
    /// still finishing complete, and any later one fails naming this rank.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        var left = new CollectiveException(
            $"Rank {Rank} left group '{GroupId}' (the group was disposed on this rank).", Rank, CurrentSequence);
        if (Interlocked.CompareExchange(ref _fault, left, null) is null)
        {
            await _failed.CancelAsync().ConfigureAwait(false);
            _chunks.Writer.TryComplete();
            StartTeardown(PeerFrame.ForGoodbye(Interlocked.Read(ref _completed)), $"rank {Rank} left the group");
        }
        Task teardown;
        lock (_gate)
        {
            teardown = _teardown ?? Task.CompletedTask;
        }
        await teardown.ConfigureAwait(false);
        await _linksDown.CancelAsync().ConfigureAwait(false);
        try
        {
            await _background.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The background loops report through Fail; what they throw while stopping says nothing new.
        }
        while (_chunks.Reader.TryRead(out var unread))
        {
            unread.Release();
        }
        // Unmapped now, or by the collective still waking up from its wait (it saw the failure above).
        _shm?.Dispose();
        _failed.Dispose();
        _linksDown.Dispose();
    }

    ValueTask IRingExchange.SendAsync(ChunkHeader header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Not the collective's token: cancelling a gRPC write mid-message resets the stream, and the abort that a
        // failure sends next could then not follow. A send stuck on a stalled peer ends when teardown closes the link.
        return _right!.Link.SendAsync(PeerFrame.ForChunk(header, payload), _linksDown.Token);
    }

    // Lets the all-gather read chunks straight into the caller's buffer when the transport can (TCP).
    IAsyncDisposable? IChunkPlacementHost.Place(IChunkPlacement placement) => (_left?.Link as IPlacingLink)?.Place(placement);

    ValueTask<PeerFrame> IRingExchange.ReceiveAsync(ChunkHeader expected, int expectedBytes, CancellationToken cancellationToken)
    {
        if (_chunks.Reader.TryRead(out var frame))
        {
            return ValueTask.FromResult(Check(frame, expected, expectedBytes));
        }
        return ReceiveSlowAsync(expected, expectedBytes, cancellationToken);
    }

    private async ValueTask<PeerFrame> ReceiveSlowAsync(ChunkHeader expected, int expectedBytes, CancellationToken cancellationToken)
    {
        PeerFrame frame;
        try
        {
            frame = await _chunks.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            throw FaultFor(e);
        }
        return Check(frame, expected, expectedBytes);
    }

    private PeerFrame Check(PeerFrame frame, ChunkHeader expected, int expectedBytes)
    {
        Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        if (frame.Chunk == expected && frame.Payload.Length == expectedBytes)
        {
            return frame;
        }
        var sent = frame.Chunk;
        int sentBytes = frame.Payload.Length;
        frame.Release();
        Fail(-1, expected.Sequence,
            $"rank {_left!.Rank} sent {sent} ({sentBytes} bytes) where rank {Rank} expected {expected} ({expectedBytes} bytes): " +
            "the ranks called different collectives, or passed buffers of different lengths or different roots",
            Rank, symptom: true);
        throw FaultFor(null);
    }

    private async Task RunCollectiveAsync(Func<long, CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        long sequence = Enter();
        bool completed = false;
        try
        {
            if (WorldSize > 1)
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _failed.Token);
                Interlocked.Exchange(ref _armedSequence, sequence);
                using (cancellationToken.Register(static state => ((ProcessGroup)state!).OnCallerCancelled(), this))
                {
                    await body(sequence, linked.Token).ConfigureAwait(false);
                    Interlocked.Exchange(ref _armedSequence, -1);
                }
            }
            completed = true;
        }
        catch (Exception e)
        {
            var translated = Translate(e, sequence, cancellationToken);
            if (translated is CollectiveException && Volatile.Read(ref _symptom) is { Task.IsCompleted: false } symptom)
            {
                // What this rank saw (a closed link, a chunk of another collective) can be the echo of a failure
                // elsewhere whose news is still on its way: this rank entered after the others had failed. Give the
                // readers a moment to deliver it, so that the error names the cause rather than the symptom.
                try
                {
                    await symptom.Task.WaitAsync(FaultGrace).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
                translated = FaultFor(e is CollectiveException ? null : e);
            }
            throw translated;
        }
        finally
        {
            Exit(sequence, completed);
        }
    }

    /// <summary>
    /// Part of setup (collective #0): rank 0 creates a shared-memory segment and announces it; every rank maps it or
    /// says why it cannot; the group all-reduces through it only when every rank could. A rank on another host (or in
    /// another container's /dev/shm) cannot map it, so such a group keeps the ring.
    /// </summary>
    private async Task ChooseAllReducePathAsync(long sequence, CancellationToken cancellationToken)
    {
        // Offer: [0] 1 when there is a segment, [1] the path's length in bytes, then the path, then the nonce.
        var offer = new byte[256];
        SharedMemoryAllReduce? segment = null;
        string? refusal = null;
        try
        {
            if (Rank == 0)
            {
                if (!_options.SharedMemory)
                {
                    refusal = "shared memory is turned off on rank 0";
                }
                else
                {
                    try
                    {
                        segment = SharedMemoryAllReduce.Create(WorldSize, _options.SharedMemorySlotBytes, out var nonce);
                        int pathBytes = System.Text.Encoding.UTF8.GetBytes(segment.Path, offer.AsSpan(2));
                        offer[0] = 1;
                        offer[1] = checked((byte)pathBytes);
                        nonce.CopyTo(offer.AsSpan(2 + pathBytes));
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or OverflowException)
                    {
                        segment?.Dispose();
                        segment = null;
                        refusal = $"rank 0 could not create a shared-memory segment: {e.Message}";
                    }
                }
            }
            await _broadcast.RunAsync(offer, 0, sequence, cancellationToken).ConfigureAwait(false);
            if (Rank != 0 && offer[0] == 0)
            {
                refusal = "rank 0 offered no shared-memory segment (turned off there, or it could not create one)";
            }
            else if (Rank != 0)
            {
                if (!_options.SharedMemory)
                {
                    refusal = $"shared memory is turned off on rank {Rank}";
                }
                else
                {
                    string path = System.Text.Encoding.UTF8.GetString(offer, 2, offer[1]);
                    try
                    {
                        segment = SharedMemoryAllReduce.Open(path, offer.AsSpan(2 + offer[1], 16), WorldSize, Rank);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        refusal = $"rank {Rank} could not map rank 0's segment, so the ranks do not share one host ({e.Message})";
                    }
                }
            }
            var refused = new[] { segment is null ? 1f : 0f };
            await _allReduce.RunAsync(refused, ReduceOp.Sum, sequence, cancellationToken).ConfigureAwait(false);
            if (refused[0] > 0)
            {
                SharedMemoryUnavailable = refusal ?? $"{refused[0]:F0} rank(s) could not map the shared-memory segment";
                return;
            }
            _shm = segment;
            segment = null;
        }
        finally
        {
            if (Rank == 0)
            {
                // Every rank has mapped it or given up: the name can go, the memory stays while mapped.
                (segment ?? _shm)?.Unlink();
            }
            segment?.Dispose();
        }
    }

    /// <summary>Through shared memory, when the buffer fits one slot: the others read it straight from there.</summary>
    public bool CanSplitAllReduce(int length) => _shm is not null && _shm.FitsOnePiece(length);

    /// <summary>Publishes this rank's buffer to the others (no wait); <see cref="EndAllReduce"/> finishes the collective.</summary>
    /// <exception cref="InvalidOperationException">The group cannot split an all-reduce of this length (<see cref="CanSplitAllReduce"/>).</exception>
    public void BeginAllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default)
    {
        CheckAllReduce(buffer, op);
        if (!CanSplitAllReduce(buffer.Length))
        {
            throw new InvalidOperationException(
                $"This group cannot split an all-reduce of {buffer.Length} floats ({AllReducePath}); call AllReduce instead.");
        }
        long sequence = Enter();
        try
        {
            Interlocked.Exchange(ref _armedSequence, sequence);
            var registration = cancellationToken.Register(static state => ((ProcessGroup)state!).OnCallerCancelled(), this);
            _split = new SplitCall(buffer, op, sequence, cancellationToken, registration);
            _splitting = true;
            _shm!.Begin(buffer.Span, op, sequence);
        }
        catch (Exception e)
        {
            if (_splitting)
            {
                _split.Registration.Dispose();
            }
            _splitting = false;
            _split = default;
            Exit(sequence, completed: false);
            throw Settle(e, sequence, cancellationToken);
        }
    }

    /// <inheritdoc />
    public void EndAllReduce()
    {
        if (!_splitting)
        {
            throw new InvalidOperationException("EndAllReduce called without BeginAllReduce.");
        }
        var call = _split;
        _split = default;
        _splitting = false;
        bool completed = false;
        try
        {
            using (call.Registration)
            {
                _shm!.End(call.Buffer.Span, call.Op, call.Sequence, _failed.Token, _strayFrame);
                Interlocked.Exchange(ref _armedSequence, -1);
            }
            completed = true;
        }
        catch (Exception e)
        {
            throw Settle(e, call.Sequence, call.CancellationToken);
        }
        finally
        {
            Exit(call.Sequence, completed);
        }
    }

    private readonly record struct SplitCall(Memory<float> Buffer, ReduceOp Op, long Sequence, CancellationToken CancellationToken,
        CancellationTokenRegistration Registration);

    /// <summary><see cref="RunCollectiveAsync"/>'s bookkeeping around a shared-memory all-reduce, on the calling thread.</summary>
    private void RunSharedMemoryAllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken)
    {
        long sequence = Enter();
        bool completed = false;
        try
        {
            Interlocked.Exchange(ref _armedSequence, sequence);
            using (cancellationToken.Register(static state => ((ProcessGroup)state!).OnCallerCancelled(), this))
            {
                _shm!.Run(buffer.Span, op, sequence, _failed.Token, _strayFrame);
                Interlocked.Exchange(ref _armedSequence, -1);
            }
            completed = true;
        }
        catch (Exception e)
        {
            throw Settle(e, sequence, cancellationToken);
        }
        finally
        {
            Exit(sequence, completed);
        }
    }

    /// <summary>The error a failed blocking collective throws; as in <see cref="RunCollectiveAsync"/>, a symptom waits briefly for its cause.</summary>
    private Exception Settle(Exception error, long sequence, CancellationToken cancellationToken)
    {
        var translated = Translate(error, sequence, cancellationToken);
        if (translated is CollectiveException && Volatile.Read(ref _symptom) is { Task.IsCompleted: false } symptom)
        {
            symptom.Task.Wait(FaultGrace);
            translated = FaultFor(error is CollectiveException ? null : error);
        }
        return translated;
    }

    private long Enter()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException(
                "A collective is already running on this group: collectives run one at a time, in the same order on every rank.");
        }
        if (Volatile.Read(ref _fault) is not null)
        {
            Volatile.Write(ref _busy, 0);
            throw FaultFor(null);
        }
        long sequence = Interlocked.Increment(ref _sequence);
        Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        // Published before the departure check below; a goodbye published before reading _active pairs with it.
        Interlocked.Exchange(ref _active, sequence);
        foreach (var peer in Neighbours())
        {
            long departed = peer.DepartedAfter;
            if (departed != PeerState.Present && departed < sequence)
            {
                Fail(peer.Rank, sequence, $"rank {peer.Rank} left the group after collective #{departed}", Rank);
                Exit(sequence, completed: false);
                throw FaultFor(null);
            }
        }
        return sequence;
    }

    private void Exit(long sequence, bool completed)
    {
        if (completed)
        {
            Interlocked.Exchange(ref _completed, sequence);
        }
        Interlocked.Exchange(ref _active, -1);
        Volatile.Write(ref _busy, 0);
    }

    private Exception Translate(Exception error, long sequence, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new OperationCanceledException(
                $"Collective #{sequence} was cancelled on rank {Rank}; the group has failed and cannot be used any more.",
                error, cancellationToken);
        }
        if (Volatile.Read(ref _fault) is null)
        {
            // The ranks are out of step after any failure inside a collective, so the group ends either way.
            if (error is RankMismatchException)
            {
                Fail(-1, sequence, error.Message, Rank);
            }
            else if (error is IOException)
            {
                Fail(_right!.Rank, sequence, $"sending to rank {_right.Rank} failed ({error.Message})", Rank, symptom: true);
            }
            else
            {
                Fail(-1, sequence, $"rank {Rank} failed unexpectedly ({error.GetType().Name}: {error.Message})", Rank);
            }
        }
        return FaultFor(error);
    }

    private void OnCallerCancelled()
    {
        long sequence = Interlocked.Exchange(ref _armedSequence, -1);
        if (sequence >= 0)
        {
            Fail(Rank, sequence, $"the caller on rank {Rank} cancelled collective #{sequence}", Rank);
        }
    }

    /// <summary>Records the first failure, wakes every waiting collective and tells the neighbours; later calls do nothing.</summary>
    private void Fail(int failedRank, long reportedSequence, string reason, int reporterRank, bool symptom = false)
    {
        long active = Interlocked.Read(ref _active);
        long sequence = active >= 0 ? active : Math.Max(0, Volatile.Read(ref _sequence));
        string where = active >= 0
            ? $"Collective #{sequence} on rank {Rank} of group '{GroupId}' failed"
            : $"Group '{GroupId}' failed on rank {Rank} after collective #{sequence}";
        string message = reporterRank == Rank
            ? $"{where}: {reason}."
            : $"{where}: {reason} (reported by rank {reporterRank}).";
        var fault = new CollectiveException(message, failedRank >= 0 ? failedRank : null, sequence);
        // Published before the fault, so that a cause reported right after a symptom always finds it.
        TaskCompletionSource? awaitingCause = null;
        if (symptom)
        {
            awaitingCause = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            awaitingCause = Interlocked.CompareExchange(ref _symptom, awaitingCause, null) ?? awaitingCause;
        }
        if (Interlocked.CompareExchange(ref _fault, fault, null) is { } first)
        {
            if (symptom)
            {
                // The cause came first: nobody waits for another.
                awaitingCause!.TrySetResult();
            }
            // A symptom recorded first gives way, once, to the cause that a neighbour reports after it. The group
            // has already stopped and said farewell; only the error its callers get changes.
            else if (reporterRank != Rank && Volatile.Read(ref _symptom) is { Task.IsCompleted: false } pending
                && Interlocked.CompareExchange(ref _fault, fault, first) == first)
            {
                pending.TrySetResult();
            }
            return;
        }
        _failed.Cancel();
        _chunks.Writer.TryComplete();
        StartTeardown(PeerFrame.ForAbort(new GroupAbort(failedRank, reportedSequence, reason, reporterRank)), reason);
    }

    private CollectiveException FaultFor(Exception? cause)
    {
        var fault = Volatile.Read(ref _fault)!;
        Debug.Assert(fault is not null, "Only called once the group has failed.");
        return new CollectiveException(fault.Message, fault.PeerRank, fault.Sequence, cause);
    }

    private long CurrentSequence
    {
        get
        {
            long active = Interlocked.Read(ref _active);
            return active >= 0 ? active : Math.Max(0, Volatile.Read(ref _sequence));
        }
    }

    private void StartTeardown(PeerFrame farewell, string retireReason)
    {
        lock (_gate)
        {
            _teardown ??= TeardownAsync(farewell, retireReason);
        }
    }

    private async Task TeardownAsync(PeerFrame farewell, string retireReason)
    {
        // Never say farewell inline on the thread that detected the failure (a reader, a cancellation callback).
        await Task.Yield();
        _transport.Retire(GroupId, retireReason);
        if (_left is null || _right is null)
        {
            return;
        }
        using (var grace = new CancellationTokenSource(FarewellTimeout))
        {
            await Task.WhenAll(SayAsync(_left, farewell, grace.Token), SayAsync(_right, farewell, grace.Token))
                .ConfigureAwait(false);
        }
        await Task.WhenAll(CloseAsync(_left.Link), CloseAsync(_right.Link)).ConfigureAwait(false);
        await _linksDown.CancelAsync().ConfigureAwait(false);
    }

    private static async Task SayAsync(PeerState peer, PeerFrame farewell, CancellationToken cancellationToken)
    {
        if (peer.DepartedAfter != PeerState.Present)
        {
            return;
        }
        try
        {
            await peer.Link.SendAsync(farewell, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // A dead or stalled peer cannot be told; it finds out from its own timeout.
        }
    }

    private static async Task CloseAsync(IPeerLink link)
    {
        try
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Closing a broken link has nothing left to do.
        }
    }

    private async Task ReadAsync(PeerState peer)
    {
        try
        {
            while (true)
            {
                PeerFrame frame = await peer.Link.ReceiveAsync(_linksDown.Token).ConfigureAwait(false);
                peer.Heard();
                switch (frame.Kind)
                {
                    case PeerFrameKind.Chunk when peer == _left:
                        if (!_chunks.Writer.TryWrite(frame))
                        {
                            frame.Release();
                        }
                        break;
                    case PeerFrameKind.Heartbeat:
                        peer.Status = frame.Status;
                        break;
                    // After a farewell the loop reads on until the link ends, so that closing our end sees that
                    // end instead of waiting out its grace period.
                    case PeerFrameKind.Abort:
                        var abort = frame.Abort!;
                        Fail(abort.FailedRank, abort.Sequence, abort.Reason, abort.ReporterRank);
                        break;
                    case PeerFrameKind.Goodbye:
                        OnGoodbye(peer, frame.CompletedSequence);
                        break;
                    default:
                        frame.Release();
                        Fail(peer.Rank, CurrentSequence,
                            $"rank {peer.Rank} sent an unexpected {frame.Kind} frame on the {peer.Side} link", Rank);
                        return;
                }
            }
        }
        catch (OperationCanceledException) when (_linksDown.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            if (peer.DepartedAfter == PeerState.Present && Volatile.Read(ref _fault) is null)
            {
                Fail(peer.Rank, CurrentSequence,
                    $"the connection to rank {peer.Rank} broke ({e.Message}); it exited, was killed or lost the network", Rank);
            }
        }
    }

    private void OnGoodbye(PeerState peer, long completedSequence)
    {
        // Published before reading _active; Enter publishes _active before reading the departure.
        peer.Depart(completedSequence);
        long active = Interlocked.Read(ref _active);
        if (active > completedSequence)
        {
            Fail(peer.Rank, active, $"rank {peer.Rank} left the group during collective #{active}", Rank);
        }
        // Its farewell ends the link; closing our end lets its side finish without waiting out a grace period.
        _ = CloseAsync(peer.Link);
    }

    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(_heartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_failed.Token).ConfigureAwait(false))
            {
                long now = Stopwatch.GetTimestamp();
                foreach (var peer in Neighbours())
                {
                    if (peer.DepartedAfter == PeerState.Present && now - peer.LastHeard > _timeoutTicks)
                    {
                        Fail(peer.Rank, CurrentSequence,
                            $"rank {peer.Rank} sent nothing for {Seconds(_options.Timeout)}; it exited, was killed or stalled", Rank);
                        return;
                    }
                }
                long active = Interlocked.Read(ref _active);
                long progress = Math.Max(Volatile.Read(ref _lastProgress), _shm?.LastProgress ?? 0);
                // A split all-reduce that every rank has published waits only for this rank's caller to end it: the
                // caller's own compute between the halves, not a stalled group.
                bool callerOwes = Volatile.Read(ref _splitting) && _shm!.Laggard() < 0;
                if (active >= 0 && now - progress > _timeoutTicks && !callerOwes)
                {
                    FailStalled(active, now);
                    return;
                }
                var status = PeerFrame.ForHeartbeat(
                    new PeerStatus(Volatile.Read(ref _sequence), active, Blocker(active, now, forHeartbeat: true)));
                Beat(_left!, status);
                Beat(_right!, status);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void FailStalled(long active, long now)
    {
        if (_shm?.Laggard() is >= 0 and var laggard)
        {
            // Every rank reads every other's arrival in the segment, so each names the same rank.
            Fail(laggard, active, laggard == Rank
                ? $"collective #{active} made no progress for {Seconds(_options.Timeout)} on rank {Rank} itself"
                : $"rank {laggard} did not reach collective #{active} within {Seconds(_options.Timeout)}", Rank);
            return;
        }
        int blocker = Blocker(active, now, forHeartbeat: false);
        var left = _left!;
        var status = left.Status;
        string reason;
        if (blocker == left.Rank && now - left.LastHeard > _quietTicks)
        {
            reason = $"collective #{active} made no progress for {Seconds(_options.Timeout)} and rank {blocker} went quiet";
        }
        else if (blocker == left.Rank && (status is null || status.EnteredSequence < active))
        {
            reason = $"rank {blocker} did not enter collective #{active} within {Seconds(_options.Timeout)}";
        }
        else
        {
            reason = $"collective #{active} made no progress for {Seconds(_options.Timeout)}, waiting on rank {blocker}";
        }
        Fail(blocker, active, reason, Rank);
    }

    /// <summary>
    /// The rank this one waits for in collective <paramref name="active"/>: whoever its left-hand neighbour last
    /// said it waits for, otherwise that neighbour when it is quiet, has not entered the collective or is itself
    /// the end of the chain. Data only flows rightwards, so following the chain leftwards ends at the rank that
    /// holds up the whole ring.
    /// </summary>
    private int Blocker(long active, long now, bool forHeartbeat)
    {
        if (active < 0 || _left is null)
        {
            return -1;
        }
        if (_shm?.Laggard() is >= 0 and var laggard && laggard != Rank)
        {
            return laggard;
        }
        var status = _left.Status;
        // The neighbour's own report comes first, even when it has been quiet for a few heartbeats: on an
        // overloaded machine a process can go more than a second without running, and blaming it for that would
        // name the wrong rank. A neighbour that is really gone is named by the heartbeat timeout instead.
        if (status is not null && status.ActiveSequence == active && status.BlockerRank >= 0 && status.BlockerRank != Rank)
        {
            return status.BlockerRank;
        }
        if (now - _left.LastHeard > _quietTicks || status is null || status.EnteredSequence < active)
        {
            return _left.Rank;
        }
        return forHeartbeat ? -1 : _left.Rank;
    }

    private void Beat(PeerState peer, PeerFrame heartbeat)
    {
        if (peer.DepartedAfter != PeerState.Present || !peer.TryStartHeartbeat())
        {
            return;
        }
        _ = SendHeartbeatAsync(peer, heartbeat);
    }

    private async Task SendHeartbeatAsync(PeerState peer, PeerFrame heartbeat)
    {
        try
        {
            await peer.Link.SendAsync(heartbeat, _linksDown.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The reader of that link reports a broken link; a lost heartbeat adds nothing.
        }
        finally
        {
            peer.EndHeartbeat();
        }
    }

    private PeerState[] Neighbours() => _left is null ? [] : [_left, _right!];

    private void CheckRoot(int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static async Task<(PeerState Left, PeerState Right)> ConnectNeighboursAsync(
        ICollectiveTransport transport, ProcessGroupOptions options, CancellationToken cancellationToken)
    {
        int n = options.WorldSize;
        int rightRank = (options.Rank + 1) % n;
        int leftRank = (options.Rank - 1 + n) % n;
        using var setup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        setup.CancelAfter(options.Timeout);
        var failure = new SetupFailure(setup);
        Task<IPeerLink> right = DialAsync(transport, options, rightRank, failure, cancellationToken, setup.Token);
        Task<IPeerLink> left = AcceptAsync(transport, options, leftRank, failure, cancellationToken, setup.Token);
        try
        {
            await Task.WhenAll(right, left).ConfigureAwait(false);
        }
        catch (Exception)
        {
            string reason = failure.Reason ?? "setup was cancelled";
            transport.Retire(options.GroupId, reason);
            // Neighbours learn why the group is off, so they fail at once with the real reason rather than time out.
            var abort = PeerFrame.ForAbort(new GroupAbort(failure.Rank, 0, reason, options.Rank));
            foreach (var task in new[] { right, left })
            {
                if (task.Status == TaskStatus.RanToCompletion)
                {
                    using var grace = new CancellationTokenSource(FarewellTimeout);
                    await SayAsync(new PeerState(task.Result, -1, ""), abort, grace.Token).ConfigureAwait(false);
                    await CloseAsync(task.Result).ConfigureAwait(false);
                }
            }
            if (right.Status != TaskStatus.RanToCompletion && failure.Rank != rightRank && !cancellationToken.IsCancellationRequested)
            {
                // The left-hand neighbour finds the group retired when it dials; the right-hand one would wait
                // for our call until its timeout, so make that call just to say why.
                await TellRightAsync(transport, options, rightRank, abort).ConfigureAwait(false);
            }
            cancellationToken.ThrowIfCancellationRequested();
            throw new CollectiveException(
                $"Setting up group '{options.GroupId}' on rank {options.Rank} failed: {reason}.",
                failure.Rank >= 0 ? failure.Rank : null, 0);
        }
        return (new PeerState(left.Result, leftRank, "left"), new PeerState(right.Result, rightRank, "right"));
    }

    private static async Task TellRightAsync(ICollectiveTransport transport, ProcessGroupOptions options, int rightRank, PeerFrame abort)
    {
        using var grace = new CancellationTokenSource(FarewellTimeout);
        var handshake = new GroupHandshake(
            options.GroupId, options.WorldSize, options.Rank, rightRank, options.LayoutFingerprint, options.ChunkBytes);
        try
        {
            var link = await transport.ConnectAsync(options.Endpoints[rightRank], handshake, grace.Token).ConfigureAwait(false);
            try
            {
                PeerFrame answer = await link.ReceiveAsync(grace.Token).ConfigureAwait(false);
                if (answer.Kind == PeerFrameKind.Accepted)
                {
                    await SayAsync(new PeerState(link, rightRank, "right"), abort, grace.Token).ConfigureAwait(false);
                }
            }
            finally
            {
                await CloseAsync(link).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Best effort: the neighbour still fails by its own timeout.
        }
    }

    private static async Task<IPeerLink> DialAsync(
        ICollectiveTransport transport, ProcessGroupOptions options, int rightRank, SetupFailure failure,
        CancellationToken callerToken, CancellationToken setupToken)
    {
        string endpoint = options.Endpoints[rightRank];
        var handshake = new GroupHandshake(
            options.GroupId, options.WorldSize, options.Rank, rightRank, options.LayoutFingerprint, options.ChunkBytes);
        IPeerLink link;
        try
        {
            link = await transport.ConnectAsync(endpoint, handshake, setupToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!callerToken.IsCancellationRequested && e is IOException or OperationCanceledException)
        {
            failure.Set($"could not connect to rank {rightRank} at {endpoint}: {e.Message}", rightRank);
            throw;
        }
        try
        {
            PeerFrame answer = await link.ReceiveAsync(setupToken).ConfigureAwait(false);
            switch (answer.Kind)
            {
                case PeerFrameKind.Accepted:
                    if (!setupToken.IsCancellationRequested)
                    {
                        return link;
                    }
                    failure.Set($"rank {rightRank} at {endpoint} did not answer the handshake within {Seconds(options.Timeout)}", rightRank);
                    break;
                case PeerFrameKind.Abort:
                    failure.Set(answer.Abort!.Reason, answer.Abort.FailedRank);
                    break;
                default:
                    answer.Release();
                    failure.Set($"rank {rightRank} answered the handshake with a {answer.Kind} frame", rightRank);
                    break;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            if (!callerToken.IsCancellationRequested)
            {
                failure.Set(e is IOException
                    ? $"rank {rightRank} at {endpoint} dropped the connection during the handshake ({e.Message})"
                    : $"rank {rightRank} at {endpoint} did not answer the handshake within {Seconds(options.Timeout)}", rightRank);
            }
        }
        await AbandonAsync(link, failure, options.Rank).ConfigureAwait(false);
        callerToken.ThrowIfCancellationRequested();
        throw new IOException(failure.Reason);
    }

    private static async Task<IPeerLink> AcceptAsync(
        ICollectiveTransport transport, ProcessGroupOptions options, int leftRank, SetupFailure failure,
        CancellationToken callerToken, CancellationToken setupToken)
    {
        AcceptedPeer accepted;
        try
        {
            accepted = await transport.AcceptAsync(options.GroupId, setupToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!callerToken.IsCancellationRequested && e is IOException or OperationCanceledException)
        {
            failure.Set($"rank {leftRank} did not connect within {Seconds(options.Timeout)} ({e.Message})", leftRank);
            throw;
        }
        string? difference = Difference(options, leftRank, accepted.Handshake);
        if (difference is not null)
        {
            failure.Set(difference, -1);
        }
        else
        {
            try
            {
                await accepted.Link.SendAsync(PeerFrame.Accepted, setupToken).ConfigureAwait(false);
                return accepted.Link;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                if (!callerToken.IsCancellationRequested)
                {
                    failure.Set(e is IOException
                        ? $"rank {leftRank} dropped the connection during the handshake ({e.Message})"
                        : $"rank {leftRank} connected but setup ran out of time", leftRank);
                }
            }
        }
        // The answer to a mismatched handshake names the difference, so the dialling rank fails with it too.
        await AbandonAsync(accepted.Link, failure, options.Rank).ConfigureAwait(false);
        callerToken.ThrowIfCancellationRequested();
        throw new IOException(failure.Reason);
    }

    /// <summary>Tells the peer on a link why setup failed, then closes the link.</summary>
    private static async Task AbandonAsync(IPeerLink link, SetupFailure failure, int rank)
    {
        var abort = PeerFrame.ForAbort(new GroupAbort(failure.Rank, 0, failure.Reason ?? "setup was cancelled", rank));
        using (var grace = new CancellationTokenSource(FarewellTimeout))
        {
            await SayAsync(new PeerState(link, -1, ""), abort, grace.Token).ConfigureAwait(false);
        }
        await CloseAsync(link).ConfigureAwait(false);
    }

    /// <summary>What the connecting rank's handshake disagrees on, most fundamental first; null when nothing.</summary>
    private static string? Difference(ProcessGroupOptions local, int expectedLeft, GroupHandshake remote)
    {
        int rank = local.Rank;
        if (remote.GroupId != local.GroupId)
        {
            return $"group id differs: rank {remote.Rank} has '{remote.GroupId}', rank {rank} has '{local.GroupId}'";
        }
        if (remote.WorldSize != local.WorldSize)
        {
            return $"world size differs: rank {remote.Rank} has {remote.WorldSize}, rank {rank} has {local.WorldSize}";
        }
        if (remote.ReceiverRank != rank)
        {
            return $"rank {remote.Rank} dialled rank {remote.ReceiverRank} but reached rank {rank}: the ranks' endpoint lists differ";
        }
        if (remote.Rank != expectedLeft)
        {
            return $"rank {rank} expected rank {expectedLeft} as its left-hand neighbour but rank {remote.Rank} connected: " +
                "the ranks' endpoint lists differ, or two ranks share a rank number";
        }
        if (remote.ChunkBytes != local.ChunkBytes)
        {
            return $"chunk size differs: rank {remote.Rank} has {remote.ChunkBytes} bytes, rank {rank} has {local.ChunkBytes}";
        }
        if (remote.LayoutFingerprint != local.LayoutFingerprint)
        {
            return FingerprintDifference(remote.Rank, remote.LayoutFingerprint, rank, local.LayoutFingerprint);
        }
        return null;
    }

    private static string FingerprintDifference(int remoteRank, string remote, int localRank, string local)
    {
        int at = 0;
        while (at < remote.Length && at < local.Length && remote[at] == local[at])
        {
            at++;
        }
        return $"layout fingerprint differs from character {at}: rank {remoteRank} has {Excerpt(remote, at)}, " +
            $"rank {localRank} has {Excerpt(local, at)}";
    }

    // Fingerprints can be long (every parameter shape); show the neighbourhood of the first difference.
    private static string Excerpt(string text, int at)
    {
        const int Context = 40;
        int start = Math.Max(0, at - Context);
        int end = Math.Min(text.Length, at + Context);
        return (start > 0 ? "'…" : "'") + text[start..end] + (end < text.Length ? "…'" : "'");
    }

    /// <summary>The first reason setup failed, shared by the dialling and accepting halves; the first failure stops the other half.</summary>
    private sealed class SetupFailure(CancellationTokenSource setup)
    {
        private string? _reason;

        public string? Reason => Volatile.Read(ref _reason);

        public int Rank { get; private set; } = -1;

        public void Set(string reason, int rank)
        {
            if (Interlocked.CompareExchange(ref _reason, reason, null) is null)
            {
                Rank = rank;
                setup.Cancel();
            }
        }
    }
}
