using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;
using Orchestrator.Worker.Collectives;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Averages one network's gradients across a process group after each backward pass. Gradients are fused into
/// buckets (contiguous runs of parameters up to a byte budget), each all-reduced as one buffer that is
/// allocated once and reused every step.
/// </summary>
public sealed class GradientAverager : IDisposable
{
    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const int DefaultBucketBytes = 25 * 1024 * 1024;

    private readonly ICommunicator _group;
    private readonly Parameter[] _parameters;
    private readonly long[] _elements;
    private readonly (int First, int End, int Elements)[] _buckets;
    // One buffer per bucket, allocated once: every bucket is in flight at the same time while compute goes on.
    private readonly float[][] _buffers;
    private readonly int _extra;
    // The overlapped all-reduce's thread and its hand-offs: _start wakes it for one average, _done answers.
    private readonly SemaphoreSlim _start = new(0);
    private readonly SemaphoreSlim _done = new(0);
    private Thread? _communication;
    private ExceptionDispatchInfo? _failure;
    private bool _inFlight;
    // Set between BeginAverage and EndAverage when the group split the all-reduce (shared memory): no thread involved.
    private ISplitAllReduce? _split;
    private volatile bool _disposed;
    private readonly TimeProvider _time;

    /// <param name="extraValues">Values the caller averages along with the gradients (<see cref="Extra"/>): they
    /// ride in the last bucket, so a step's scalars need no all-reduce, and no wait for the slowest rank, of their own.</param>
    /// <param name="time">The clock <see cref="AllReduceTicks"/> is read from (the system's by default).</param>
    public GradientAverager(ICommunicator group, Parameter[] parameters, int bucketBytes = DefaultBucketBytes, int extraValues = 0,
        TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        ArgumentOutOfRangeException.ThrowIfNegative(extraValues);
        _group = group;
        _parameters = parameters;
        _elements = parameters.Select(p => p.numel()).ToArray();
        var buckets = new List<(int, int, int)>();
        int first = 0, elements = 0, budget = Math.Max(1, bucketBytes / sizeof(float));
        for (int i = 0; i < parameters.Length; i++)
        {
            if (elements > 0 && elements + _elements[i] > budget)
            {
                buckets.Add((first, i, elements));
                first = i;
                elements = 0;
            }
            elements += (int)_elements[i];
        }
        if (elements > 0 || (buckets.Count == 0 && extraValues > 0)) buckets.Add((first, parameters.Length, elements));
        _buckets = buckets.ToArray();
        _extra = extraValues;
        _buffers = _buckets.Select((b, i) => new float[b.Elements + (i == _buckets.Length - 1 ? extraValues : 0)]).ToArray();
    }

    /// <summary>
    /// The extra values: written before <see cref="Average"/> (or <see cref="BeginAverage"/>), they hold the group's
    /// means after it (after <see cref="EndAverage"/>).
    /// </summary>
    public Span<float> Extra => _extra == 0 ? [] : _buffers[^1].AsSpan(_buffers[^1].Length - _extra);

    public int BucketCount => _buckets.Length;

    /// <summary>Shapes and bucket boundaries: ranks must agree on it before the first step.</summary>
    public string Fingerprint()
    {
        var text = new StringBuilder();
        foreach (var p in _parameters) text.Append('[').AppendJoin(',', p.shape).Append(']');
        foreach (var (f, e, n) in _buckets) text.Append('|').Append(f).Append('-').Append(e).Append(':').Append(n);
        if (_extra > 0) text.Append("|+").Append(_extra);
        return text.ToString();
    }

    /// <summary>
    /// Time callers spent waiting for all-reduces so far, in ticks of the averager's clock (<see cref="Stopwatch"/>
    /// ticks unless a <see cref="TimeProvider"/> was given; copies to and from the
    /// buckets excluded; an all-reduce overlapped with compute counts only the part still left when its result was needed).
    /// </summary>
    public long AllReduceTicks { get; private set; }

    /// <summary>Gradient bytes all-reduced so far.</summary>
    public long AllReduceBytes { get; private set; }

    /// <summary>
    /// What this rank's gradients count for in the next average (1: an equal share). A rank that computed its
    /// gradients over n of the group's N samples passes W·n/N, so the group's mean is the global batch's mean
    /// gradient whatever the split. <see cref="Extra"/> is not scaled.
    /// </summary>
    public float Weight { get; set; } = 1f;

    /// <summary>Replaces every gradient with its mean over the group (a missing gradient counts as zeros).</summary>
    public void Average()
    {
        // On the caller's thread: in-process replicas rendezvous inside the call, and pool threads blocked there
        // could starve the replicas still to arrive.
        if (_inFlight) throw new InvalidOperationException("Average called while BeginAverage's all-reduce is in flight.");
        CopyIn();
        long started = _time.GetTimestamp();
        ReduceAll();
        AllReduceTicks += _time.GetTimestamp() - started;
        CopyOut();
    }

    /// <summary>
    /// Copies the gradients into the buckets and starts their all-reduces on this averager's communication thread;
    /// the caller may compute whatever does not need these gradients (nor the parameters they will update) until
    /// <see cref="EndAverage"/>, which waits and copies the means back. Every rank must call the pair at the same
    /// point of its collective sequence, and one pair must end before the next begins.
    /// </summary>
    public void BeginAverage()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_inFlight) throw new InvalidOperationException("BeginAverage called again before EndAverage.");
        CopyIn();
        if (_buckets.Length == 1 && _group is ISplitAllReduce split && split.CanSplitAllReduce(_buffers[0].Length))
        {
            // Ranks that share memory: this rank's bucket is published here and the others' read in EndAverage, on this
            // thread; a communication thread would only add two hand-offs per all-reduce and compete for the cores.
            split.BeginAllReduce(_buffers[0].AsMemory(), ReduceOp.Average);
            _split = split;
        }
        _inFlight = true;
        if (_split is not null || _buckets.Length == 0) return;
        // One thread for the averager's lifetime, not one per step (a thread start costs its stack's page faults
        // every step), and not a pool thread: a replica group blocks its callers until every replica has arrived.
        _communication ??= StartCommunicationThread();
        _start.Release();
    }

    /// <summary>Waits for <see cref="BeginAverage"/>'s all-reduces and replaces every gradient with its mean.</summary>
    /// <remarks><see cref="AllReduceTicks"/> counts only the time the caller waited here: what overlapped compute is hidden.</remarks>
    public void EndAverage()
    {
        if (!_inFlight) throw new InvalidOperationException("EndAverage called without BeginAverage.");
        _inFlight = false;
        if (_buckets.Length > 0)
        {
            long waiting = _time.GetTimestamp();
            if (_split is { } split)
            {
                _split = null;
                split.EndAllReduce();
            }
            else
            {
                _done.Wait();
            }
            AllReduceTicks += _time.GetTimestamp() - waiting;
            if (_failure is { } failure)
            {
                _failure = null;
                failure.Throw();
            }
        }
        CopyOut();
    }

    private Thread StartCommunicationThread()
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                _start.Wait();
                if (_disposed) return;
                try
                {
                    ReduceAll();
                }
                catch (Exception e)
                {
                    _failure = ExceptionDispatchInfo.Capture(e);
                }
                _done.Release();
            }
        })
        {
            IsBackground = true,
            Name = "gradient all-reduce",
        };
        thread.Start();
        return thread;
    }

    /// <summary>Ends the communication thread (after the all-reduce in flight, if any).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_communication is not null) _start.Release();
    }

    /// <summary>Buckets go one after another, every rank in the same order.</summary>
    private void ReduceAll()
    {
        foreach (var buffer in _buffers) _group.AllReduce(buffer.AsMemory(), ReduceOp.Average);
    }

    private void CopyIn()
    {
        for (int b = 0; b < _buckets.Length; b++)
        {
            var (first, end, _) = _buckets[b];
            int offset = 0;
            for (int i = first; i < end; i++)
            {
                int n = (int)_elements[i];
                using var grad = _parameters[i].grad;
                if (grad is null) _buffers[b].AsSpan(offset, n).Clear();
                else TensorBytes.CopyTo(grad, MemoryMarshal.AsBytes(_buffers[b].AsSpan(offset, n)));
                offset += n;
            }
            if (Weight != 1f) FloatReduction.Scale(_buffers[b].AsSpan(0, offset), Weight);
        }
    }

    private void CopyOut()
    {
        for (int b = 0; b < _buckets.Length; b++)
        {
            var (first, end, count) = _buckets[b];
            AllReduceBytes += (long)count * sizeof(float);
            int offset = 0;
            for (int i = first; i < end; i++)
            {
                int n = (int)_elements[i];
                using var grad = _parameters[i].grad;
                if (grad is not null) TensorBytes.CopyFrom(MemoryMarshal.AsBytes(_buffers[b].AsSpan(offset, n)), grad);
                offset += n;
            }
        }
    }

    /// <summary>Copies rank 0's parameters and buffers (BatchNorm statistics too) to every rank.</summary>
    public static void BroadcastState(ICommunicator group, nn.Module module)
    {
        foreach (var (_, tensor) in module.state_dict())
        {
            var bytes = new byte[tensor.numel() * tensor.element_size()];
            TensorBytes.CopyTo(tensor, bytes);
            group.BroadcastAsync(bytes.AsMemory(), root: 0).GetAwaiter().GetResult();
            TensorBytes.CopyFrom(bytes, tensor);
        }
    }

    /// <summary>
    /// Averages a module's float buffers (BatchNorm running statistics) across the group. Training keeps
    /// per-replica batch statistics; every rank calls this before evaluating or checkpointing so that all ranks
    /// hold, evaluate and save one model. Integer buffers (step counters) already agree and are left alone.
    /// </summary>
    public static void AverageBuffers(ICommunicator group, nn.Module module)
    {
        foreach (var (_, buffer) in module.named_buffers())
        {
            if (buffer.dtype != ScalarType.Float32) continue;
            var values = new float[buffer.numel()];
            TensorBytes.CopyTo(buffer, MemoryMarshal.AsBytes(values.AsSpan()));
            group.AllReduce(values.AsMemory(), ReduceOp.Average);
            TensorBytes.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()), buffer);
        }
    }
}
