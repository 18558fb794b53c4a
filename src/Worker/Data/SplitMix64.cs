namespace Orchestrator.Worker.Data;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny PRNG whose integer stream is specified bit for bit,
/// so shuffles agree on every platform and runtime, which neither System.Random's unseeded algorithm
/// nor libtorch's generators promise.
/// </summary>
internal sealed class SplitMix64(ulong seed)
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private ulong _state = seed;

    /// <summary>Derives one stream per (seed, stream) pair, e.g. per epoch, without the streams being shifted copies of each other.</summary>
    public static SplitMix64 ForStream(int seed, long stream) =>
        new(Mix(unchecked((ulong)seed) ^ Mix(unchecked((ulong)stream) + Gamma)));

    public ulong NextUInt64()
    {
        _state = unchecked(_state + Gamma);
        return Mix(_state);
    }

    /// <summary>Uniform in [0, bound), unbiased: rejects the few draws that would favour small values.</summary>
    public ulong NextBelow(ulong bound)
    {
        if (bound == 0) throw new ArgumentOutOfRangeException(nameof(bound), "bound must be positive");
        ulong threshold = unchecked(0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return r % bound;
        }
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Two independent standard normals (Box-Muller); 2-D points use both.</summary>
    public (double X, double Y) NextGaussianPair()
    {
        // 1 - u keeps the logarithm's argument in (0, 1].
        double radius = Math.Sqrt(-2.0 * Math.Log(1.0 - NextDouble()));
        double angle = 2.0 * Math.PI * NextDouble();
        return (radius * Math.Cos(angle), radius * Math.Sin(angle));
    }

    private static ulong Mix(ulong z)
    {
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
