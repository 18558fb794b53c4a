namespace Orchestrator.Coordinator.Search;

/// <summary>
/// xoshiro256** seeded through SplitMix64: the searchers' only source of randomness.
/// </summary>
/// <remarks>
/// System.Random's algorithm is an implementation detail that has changed between .NET versions; a persisted
/// search must make the same suggestions after the coordinator is upgraded, so the generator is our own.
/// Searchers draw from an independent stream per trial number (<see cref="ForStream"/>) rather than one long
/// sequence: a suggestion then depends only on the seed, the trial number and the observed results, never on
/// how many draws earlier calls happened to make, which keeps restores and retried calls exact.
/// </remarks>
public sealed class DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public DeterministicRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>The stream for one (seed, purpose, index) triple; different triples give unrelated sequences.</summary>
    public static DeterministicRandom ForStream(int seed, long index, ulong purpose = 0)
    {
        // Mix each component through SplitMix64 separately so that nearby seeds and indices do not give
        // correlated starting states.
        ulong x = unchecked((ulong)(long)seed ^ 0x6A09E667F3BCC908UL);
        ulong h = SplitMix64(ref x);
        x = h ^ unchecked((ulong)index * 0x9E3779B97F4A7C15UL);
        h = SplitMix64(ref x);
        x = h ^ unchecked(purpose * 0xD1B54A32D192ED03UL);
        return new DeterministicRandom(SplitMix64(ref x));
    }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="count"/>).</summary>
    public int NextInt(int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "must be positive");
        // Lemire's multiply-shift; the bias for counts this small (< 2^31) is below 2^-33, irrelevant here.
        return (int)(((NextUInt64() >> 32) * (ulong)count) >> 32);
    }

    /// <summary>Standard normal draw (Box-Muller, one value per call so the stream has no hidden cached state).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log stays finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = unchecked(x += 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
