using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>The element-wise kernels of the ring; each float operation rounds exactly as its scalar form would.</summary>
/// <remarks>
/// Vector&lt;float&gt; is what the BCL offers: TensorPrimitives.Add lives in the System.Numerics.Tensors package,
/// which this project does not reference, and would not be faster here. The loops are memory-bound (two reads
/// and a write per element over a buffer far larger than the caches); in the allreduce benchmark's profile they
/// take about a quarter of the time the kernel spends copying the same bytes through the sockets, in line with
/// the memory traffic of each.
/// </remarks>
internal static class FloatReduction
{
    /// <summary>destination[i] = destination[i] + source[i].</summary>
    public static void Add(Span<float> destination, ReadOnlySpan<byte> source)
    {
        var src = MemoryMarshal.Cast<byte, float>(source);
        ref float d = ref MemoryMarshal.GetReference(destination);
        ref float s = ref MemoryMarshal.GetReference(src);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= destination.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var sum = Vector.LoadUnsafe(ref d, (nuint)i) + Vector.LoadUnsafe(ref s, (nuint)i);
                sum.StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < destination.Length; i++)
        {
            Unsafe.Add(ref d, i) += Unsafe.Add(ref s, i);
        }
    }

    /// <summary>destination[i] = (destination[i] + source[i]) / divisor, rounding after the sum and after the division.</summary>
    public static void AddThenDivide(Span<float> destination, ReadOnlySpan<byte> source, float divisor)
    {
        var src = MemoryMarshal.Cast<byte, float>(source);
        ref float d = ref MemoryMarshal.GetReference(destination);
        ref float s = ref MemoryMarshal.GetReference(src);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var divisors = new Vector<float>(divisor);
            for (; i <= destination.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var mean = (Vector.LoadUnsafe(ref d, (nuint)i) + Vector.LoadUnsafe(ref s, (nuint)i)) / divisors;
                mean.StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < destination.Length; i++)
        {
            Unsafe.Add(ref d, i) = (Unsafe.Add(ref d, i) + Unsafe.Add(ref s, i)) / divisor;
        }
    }

    /// <summary>values[i] = values[i] * factor.</summary>
    public static void Scale(Span<float> values, float factor)
    {
        ref float v = ref MemoryMarshal.GetReference(values);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var f = new Vector<float>(factor);
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                (Vector.LoadUnsafe(ref v, (nuint)i) * f).StoreUnsafe(ref v, (nuint)i);
            }
        }
        for (; i < values.Length; i++)
        {
            Unsafe.Add(ref v, i) *= factor;
        }
    }
}
