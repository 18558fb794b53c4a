using Orchestrator.Worker.Data;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Splits a data-parallel group's global batch between its ranks in proportion to their measured throughput
/// (<c>batch_split: by_speed</c>), so that a rank slowed down (a busier host, a slower device) gets fewer samples
/// instead of making every other rank wait at each all-reduce.
/// </summary>
/// <remarks>
/// Every rank runs its own balancer on the same inputs (the ranks' rates, all-reduced, so bit-identical on every
/// rank) and so arrives at the same split without a collective of its own. A rank's rate is samples per second of
/// its own compute (its step's time less what it waited for the group). New count ∝ count / time has its fixed point
/// where all ranks take equally long, whatever part of a step does not scale with the batch. Rates are smoothed
/// exponentially; the split moves in steps of <see cref="Quantum"/> samples and only when the smoothed ideal is
/// at least that far from the current one, so the batch shapes (and the kernels' cached plans) stay few.
/// </remarks>
public sealed class BatchBalancer
{
    private readonly double _smoothing;
    private readonly double[] _rates;
    private readonly int[] _counts;

    public BatchBalancer(int worldSize, int perRank, double smoothing = 0.25)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (!CanBalance(perRank))
            throw new ArgumentOutOfRangeException(nameof(perRank), perRank, "a split by speed needs a per-rank batch of at least 2");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(smoothing);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(smoothing, 1);
        WorldSize = worldSize;
        PerRank = perRank;
        Total = worldSize * perRank;
        _smoothing = smoothing;
        _rates = new double[worldSize];
        _counts = new int[worldSize];
        // A rank keeps at least a quarter of the even share (and 2 samples: BatchNorm needs two per channel).
        Minimum = Math.Max(2, (perRank + 3) / 4);
        Maximum = Total - (worldSize - 1) * Minimum;
        Quantum = Math.Max(1, perRank / 16);
        Reset();
    }

    /// <summary>Whether a per-rank batch leaves room to move samples between ranks.</summary>
    public static bool CanBalance(int perRank) => perRank >= 2;

    public int WorldSize { get; }
    public int PerRank { get; }
    /// <summary>The global batch: the counts always add up to it.</summary>
    public int Total { get; }
    public int Minimum { get; }
    public int Maximum { get; }
    /// <summary>Counts move in multiples of this many samples.</summary>
    public int Quantum { get; }

    /// <summary>Samples per rank for the steps to come.</summary>
    public IReadOnlyList<int> Counts => _counts;

    /// <summary>Back to the even split with no measurements (after a resume: every rank does it at the same step).</summary>
    public void Reset()
    {
        Array.Fill(_counts, PerRank);
        Array.Clear(_rates);
    }

    /// <summary>
    /// Takes one measurement of every rank's throughput (samples per second of compute, index = rank) and returns
    /// whether the split changed. A measurement that is missing for any rank (zero, negative, not finite: the
    /// first step has none) changes nothing.
    /// </summary>
    public bool Observe(ReadOnlySpan<float> samplesPerSecond)
    {
        if (samplesPerSecond.Length != WorldSize)
            throw new ArgumentException($"expected {WorldSize} rates, got {samplesPerSecond.Length}", nameof(samplesPerSecond));
        foreach (var rate in samplesPerSecond)
            if (!(rate > 0) || !float.IsFinite(rate)) return false;
        double sum = 0;
        for (int r = 0; r < WorldSize; r++)
        {
            _rates[r] = _rates[r] == 0 ? samplesPerSecond[r] : _rates[r] + _smoothing * (samplesPerSecond[r] - _rates[r]);
            sum += _rates[r];
        }
        Span<double> ideal = stackalloc double[WorldSize];
        bool far = false;
        for (int r = 0; r < WorldSize; r++)
        {
            ideal[r] = Math.Clamp(Total * _rates[r] / sum, Minimum, Maximum);
            far |= Math.Abs(ideal[r] - _counts[r]) >= Quantum;
        }
        if (!far) return false;

        Span<int> next = stackalloc int[WorldSize];
        int assigned = 0;
        for (int r = 0; r < WorldSize; r++)
        {
            next[r] = Math.Clamp((int)Math.Round(ideal[r] / Quantum, MidpointRounding.ToEven) * Quantum, Minimum, Maximum);
            assigned += next[r];
        }
        // Rounding leaves the total off by at most a few quanta: take from (or give to) the ranks furthest from
        // their ideal, one sample at a time, lowest rank first on ties, so every rank settles the same way.
        while (assigned != Total)
        {
            int pick = -1;
            for (int r = 0; r < WorldSize; r++)
            {
                bool room = assigned < Total ? next[r] < Maximum : next[r] > Minimum;
                if (!room) continue;
                double gap = ideal[r] - next[r];
                if (pick < 0 || (assigned < Total ? gap > ideal[pick] - next[pick] : gap < ideal[pick] - next[pick])) pick = r;
            }
            int step = assigned < Total ? 1 : -1;
            next[pick] += step;
            assigned += step;
        }
        bool changed = false;
        for (int r = 0; r < WorldSize; r++)
        {
            changed |= next[r] != _counts[r];
            _counts[r] = next[r];
        }
        return changed;
    }

    /// <summary>The rows of the global batch that <paramref name="rank"/> holds under the current split.</summary>
    public BatchRows RowsOf(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, WorldSize);
        int start = 0;
        for (int r = 0; r < rank; r++) start += _counts[r];
        return BatchRows.Contiguous(start, _counts[rank], Total);
    }
}
