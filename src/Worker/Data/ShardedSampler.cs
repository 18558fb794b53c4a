namespace Orchestrator.Worker.Data;

/// <summary>
/// Deterministic per-epoch shuffling, sharded across the ranks of a data-parallel group: every rank computes
/// the same permutation from (seed, epoch) and rank r takes positions r, r + W, r + 2W, ... of it.
/// </summary>
/// <remarks>
/// Interleaving (rather than contiguous blocks) is what lets W ranks with batch b see, together, exactly the
/// samples one rank with batch W·b would see at the same step; <see cref="BatchStream"/> relies on it.
/// </remarks>
public sealed class ShardedSampler
{
    public ShardedSampler(int count, int rank, int worldSize, int seed)
    {
        if (worldSize < 1)
            throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "worldSize must be at least 1");
        if (rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize}) for worldSize {worldSize}");
        if (count < worldSize)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count ({count}) must be at least worldSize ({worldSize}) so that every rank gets a sample");
        Count = count;
        Rank = rank;
        WorldSize = worldSize;
        Seed = seed;
    }

    public int Count { get; }
    public int Rank { get; }
    public int WorldSize { get; }
    public int Seed { get; }

    /// <summary>Samples this rank receives per epoch: ceil((Count - Rank) / WorldSize).</summary>
    public int ShardSize => (Count - Rank + WorldSize - 1) / WorldSize;

    /// <summary>The smallest shard over all ranks (the last rank's), which bounds the steps every rank can take.</summary>
    public int MinShardSize => Count / WorldSize;

    /// <summary>This rank's share of the epoch's permutation of 0..Count-1, in the order it should be visited.</summary>
    public long[] EpochIndices(int epoch)
    {
        var permutation = Permutation(epoch);
        var shard = new long[ShardSize];
        for (int j = 0; j < shard.Length; j++) shard[j] = permutation[Rank + (long)WorldSize * j];
        return shard;
    }

    /// <summary>The whole epoch's permutation, identical on every rank; it depends only on Seed and epoch.</summary>
    public long[] Permutation(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var permutation = new long[Count];
        for (int i = 0; i < permutation.Length; i++) permutation[i] = i;
        // Fisher-Yates driven by SplitMix64: integer-only, so the order is the same on every platform,
        // which ranks on different machines (and a resumed run) depend on.
        var random = SplitMix64.ForStream(Seed, epoch);
        for (int i = permutation.Length - 1; i > 0; i--)
        {
            int j = (int)random.NextBelow((ulong)i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        return permutation;
    }
}
