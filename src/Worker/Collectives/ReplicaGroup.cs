using System.Numerics;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Replicas inside one process, one per device, each driven by its own thread, optionally composed with a ring of
/// processes: with P processes of D replicas each, replica i of process p is global rank p·D + i of a group of P·D.
/// A collective gathers the D local buffers, reduces them into replica 0's (the leader's) staging buffer, runs the
/// ring collective across processes on that buffer alone (one ring member per process, not per replica), and copies
/// the result back into every replica's buffer. On GPUs the staging buffers are the host copies the gradient buckets
/// already make for the ring; TorchSharp exposes no peer-to-peer device copies to do better without NCCL.
/// </summary>
public sealed class ReplicaGroup
{
    private readonly object _gate = new();
    private readonly int _devices;
    private readonly ProcessGroup? _outer;
    private readonly TimeSpan _timeout;
    private readonly Slot[] _slots;
    private readonly bool[] _arrivedFlags;
    private int _arrived;
    private long _generation;
    private bool _completing;
    private CollectiveException? _fault;
    private Action? _pending;

    private ReplicaGroup(int devices, ProcessGroup? outer, TimeSpan timeout)
    {
        _devices = devices;
        _outer = outer;
        _timeout = timeout;
        _slots = new Slot[devices];
        _arrivedFlags = new bool[devices];
        Replicas = Enumerable.Range(0, devices).Select(i => (ICommunicator)new Replica(this, i)).ToArray();
    }

    /// <summary>
    /// One communicator per local replica, by local index. <paramref name="outer"/>, when given, connects this
    /// process to the others of the group; every process must use the same number of replicas.
    /// </summary>
    /// <param name="timeout">How long a replica waits for the others to reach the same collective.</param>
    public static ReplicaGroup Create(int devices, ProcessGroup? outer = null, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        var wait = timeout ?? TimeSpan.FromSeconds(30);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(wait, TimeSpan.Zero, nameof(timeout));
        return new ReplicaGroup(devices, outer, wait);
    }

    /// <summary>The communicators of this process's replicas, by local index.</summary>
    public IReadOnlyList<ICommunicator> Replicas { get; }

    public int ProcessRank => _outer?.Rank ?? 0;

    public int WorldSize => (_outer?.WorldSize ?? 1) * _devices;

    /// <summary>
    /// Fails the group for every replica: used when one replica's thread fails outside a collective, so the others
    /// stop at their next (or current) collective instead of waiting for the timeout.
    /// </summary>
    public void Abort(int localReplica, string reason)
    {
        lock (_gate)
        {
            _fault ??= new CollectiveException(
                $"replica {GlobalRank(localReplica)} failed: {reason}", GlobalRank(localReplica), _generation);
            Monitor.PulseAll(_gate);
        }
    }

    private int GlobalRank(int local) => ProcessRank * _devices + local;

    /// <summary>
    /// Waits until every local replica has arrived with its buffer, then the last to arrive runs
    /// <paramref name="collective"/> over all slots while the others wait for its result.
    /// </summary>
    private void Rendezvous(int local, Slot slot, Action collective, string what, CancellationToken cancellationToken)
    {
        using var wake = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(() => { lock (_gate) Monitor.PulseAll(_gate); })
            : default;
        lock (_gate)
        {
            ThrowIfFaulted();
            long generation = _generation;
            _slots[local] = slot;
            _arrivedFlags[local] = true;
            if (++_arrived < _devices)
            {
                var deadline = DateTime.UtcNow + _timeout;
                while (_generation == generation && _fault is null)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // Once the last replica has arrived, the wait is the cross-process collective's, which has its
                    // own timeout; only a replica that never arrives is this group's to time out.
                    var left = _completing ? TimeSpan.FromMilliseconds(200) : deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero)
                    {
                        var missing = Enumerable.Range(0, _devices).Where(i => !_arrivedFlags[i]).Select(GlobalRank).ToArray();
                        _fault = new CollectiveException(
                            $"{what}: replica(s) {string.Join(", ", missing)} did not reach collective {generation + 1} within {_timeout.TotalSeconds:0.#} s",
                            missing[0], generation + 1);
                        Monitor.PulseAll(_gate);
                        break;
                    }
                    Monitor.Wait(_gate, left);
                }
                if (_generation == generation) ThrowIfFaulted();
                return;
            }

            _pending = collective;
            _completing = true;
        }

        // The last replica runs the collective outside the lock, so Abort and the waiters' timeouts stay responsive.
        CollectiveException? failure = null;
        try
        {
            _pending!();
        }
        catch (Exception e)
        {
            failure = e as CollectiveException ?? new CollectiveException($"{what} failed: {e.Message}", null, _generation + 1, e);
        }
        lock (_gate)
        {
            _pending = null;
            _completing = false;
            Array.Clear(_arrivedFlags);
            Array.Clear(_slots);
            _arrived = 0;
            if (failure is not null) _fault ??= failure;
            else _generation++;
            Monitor.PulseAll(_gate);
            if (failure is not null) throw _fault!;
        }
    }

    private void ThrowIfFaulted()
    {
        if (_fault is { } fault) throw new CollectiveException(fault.Message, fault.PeerRank, fault.Sequence, fault);
    }

    private void AllReduceCore(int local, Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken)
    {
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown reduce operation.");
        Rendezvous(local, new Slot(buffer, default), () =>
        {
            var leader = _slots[0].Floats.Span;
            CheckLengths(s => s.Floats.Length, "all-reduce");
            for (int i = 1; i < _devices; i++) Add(leader, _slots[i].Floats.Span);
            _outer?.AllReduce(_slots[0].Floats, ReduceOp.Sum);
            if (op == ReduceOp.Average && WorldSize > 1)
            {
                float divisor = WorldSize;
                for (int i = 0; i < leader.Length; i++) leader[i] /= divisor;
            }
            for (int i = 1; i < _devices; i++) leader.CopyTo(_slots[i].Floats.Span);
        }, "all-reduce", cancellationToken);
    }

    private void BroadcastCore(int local, Slot slot, int root, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
        bool floats = !slot.Floats.IsEmpty || slot.Bytes.IsEmpty;
        Rendezvous(local, slot, () =>
        {
            int rootProcess = root / _devices, rootLocal = root % _devices;
            int source = rootProcess == ProcessRank ? rootLocal : 0;
            if (floats)
            {
                CheckLengths(s => s.Floats.Length, "broadcast");
                _outer?.BroadcastAsync(_slots[source].Floats, rootProcess).GetAwaiter().GetResult();
                for (int i = 0; i < _devices; i++)
                    if (i != source) _slots[source].Floats.Span.CopyTo(_slots[i].Floats.Span);
            }
            else
            {
                CheckLengths(s => s.Bytes.Length, "broadcast");
                _outer?.BroadcastAsync(_slots[source].Bytes, rootProcess).GetAwaiter().GetResult();
                for (int i = 0; i < _devices; i++)
                    if (i != source) _slots[source].Bytes.Span.CopyTo(_slots[i].Bytes.Span);
            }
        }, "broadcast", cancellationToken);
    }

    private void CheckLengths(Func<Slot, int> length, string what)
    {
        int expected = length(_slots[0]);
        for (int i = 1; i < _devices; i++)
        {
            if (length(_slots[i]) != expected)
                throw new CollectiveException(
                    $"{what}: replica {GlobalRank(i)} passed {length(_slots[i])} elements, replica {GlobalRank(0)} {expected}",
                    GlobalRank(i), _generation + 1);
        }
    }

    private readonly record struct Slot(Memory<float> Floats, Memory<byte> Bytes);

    private static void Add(Span<float> destination, ReadOnlySpan<float> source)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var d = MemoryMarshal.Cast<float, Vector<float>>(destination);
            var s = MemoryMarshal.Cast<float, Vector<float>>(source);
            for (int v = 0; v < d.Length; v++) d[v] += s[v];
            i = d.Length * Vector<float>.Count;
        }
        for (; i < destination.Length; i++) destination[i] += source[i];
    }

    private sealed class Replica(ReplicaGroup group, int local) : ICommunicator, ISplitAllReduce
    {
        // One replica per process has no local rendezvous: it splits whatever its process group can (the result is
        // the same: the group's mean, summed in the ring's order, divided once).
        public bool CanSplitAllReduce(int length) => group._devices == 1 && group._outer is { } outer && outer.CanSplitAllReduce(length);

        public void BeginAllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default)
        {
            if (!CanSplitAllReduce(buffer.Length))
                throw new InvalidOperationException($"Replica {Rank} cannot split an all-reduce of {buffer.Length} floats; call AllReduce instead.");
            group.ThrowIfFaulted();
            group._outer!.BeginAllReduce(buffer, op, cancellationToken);
        }

        public void EndAllReduce() => group._outer!.EndAllReduce();

        public int Rank => group.GlobalRank(local);

        public int WorldSize => group.WorldSize;

        public Task AllReduceAsync(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default)
        {
            group.AllReduceCore(local, buffer, op, cancellationToken);
            return Task.CompletedTask;
        }

        public void AllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default) =>
            group.AllReduceCore(local, buffer, op, cancellationToken);

        public Task BroadcastAsync(Memory<byte> buffer, int root, CancellationToken cancellationToken = default)
        {
            group.BroadcastCore(local, new Slot(default, buffer), root, cancellationToken);
            return Task.CompletedTask;
        }

        public Task BroadcastAsync(Memory<float> buffer, int root, CancellationToken cancellationToken = default)
        {
            group.BroadcastCore(local, new Slot(buffer, default), root, cancellationToken);
            return Task.CompletedTask;
        }

        public Task BarrierAsync(CancellationToken cancellationToken = default)
        {
            group.Rendezvous(local, default, () => group._outer?.BarrierAsync().GetAwaiter().GetResult(), "barrier", cancellationToken);
            return Task.CompletedTask;
        }
    }
}
