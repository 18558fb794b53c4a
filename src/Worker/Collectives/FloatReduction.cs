using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>The element-wise kernels of the ring; each float operation rounds exactly as its scalar form would.</summary>
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
}
