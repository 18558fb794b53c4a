using System.Diagnostics;
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
public sealed class GradientAverager
{
    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const int DefaultBucketBytes = 25 * 1024 * 1024;

    private readonly ICommunicator _group;
    private readonly Parameter[] _parameters;
    private readonly long[] _elements;
    private readonly (int First, int End, int Elements)[] _buckets;
    private readonly float[] _buffer;

    public GradientAverager(ICommunicator group, Parameter[] parameters, int bucketBytes = DefaultBucketBytes)
    {
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
        if (elements > 0) buckets.Add((first, parameters.Length, elements));
        _buckets = buckets.ToArray();
        _buffer = new float[_buckets.Length == 0 ? 0 : _buckets.Max(b => b.Elements)];
    }

    public int BucketCount => _buckets.Length;

    /// <summary>Shapes and bucket boundaries: ranks must agree on it before the first step.</summary>
    public string Fingerprint()
    {
        var text = new StringBuilder();
        foreach (var p in _parameters) text.Append('[').AppendJoin(',', p.shape).Append(']');
        foreach (var (f, e, n) in _buckets) text.Append('|').Append(f).Append('-').Append(e).Append(':').Append(n);
        return text.ToString();
    }

    /// <summary>Time spent inside all-reduce calls so far, in <see cref="Stopwatch"/> ticks (copies to and from the bucket excluded).</summary>
    public long AllReduceTicks { get; private set; }

    /// <summary>Bytes all-reduced so far.</summary>
    public long AllReduceBytes { get; private set; }

    /// <summary>Replaces every gradient with its mean over the group (a missing gradient counts as zeros).</summary>
    public void Average()
    {
        foreach (var (first, end, count) in _buckets)
        {
            int offset = 0;
            for (int i = first; i < end; i++)
            {
                int n = (int)_elements[i];
                using var grad = _parameters[i].grad;
                if (grad is null) _buffer.AsSpan(offset, n).Clear();
                else TensorBytes.CopyTo(grad, MemoryMarshal.AsBytes(_buffer.AsSpan(offset, n)));
                offset += n;
            }
            long started = Stopwatch.GetTimestamp();
            _group.AllReduceAsync(_buffer.AsMemory(0, count), ReduceOp.Average).GetAwaiter().GetResult();
            AllReduceTicks += Stopwatch.GetTimestamp() - started;
            AllReduceBytes += (long)count * sizeof(float);
            offset = 0;
            for (int i = first; i < end; i++)
            {
                int n = (int)_elements[i];
                using var grad = _parameters[i].grad;
                if (grad is not null) TensorBytes.CopyFrom(MemoryMarshal.AsBytes(_buffer.AsSpan(offset, n)), grad);
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
            group.AllReduceAsync(values.AsMemory(), ReduceOp.Average).GetAwaiter().GetResult();
            TensorBytes.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()), buffer);
        }
    }
}
