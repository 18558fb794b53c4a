using static TorchSharp.torch;

namespace Orchestrator.Worker.Data;

/// <summary>
/// Which rows of a data-parallel group's global batch one rank holds: rows <c>Start + Stride·i</c>, i in
/// [0, Count), of a global batch of <c>Total</c> rows. The data, the latent noise and WGAN-GP's interpolation
/// weights are all drawn for the global batch and selected with the same rows, so the group together sees
/// exactly what one process with the global batch sees.
/// </summary>
public readonly record struct BatchRows
{
    public BatchRows(int start, int count, int stride, int total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        if (start + (long)stride * (count - 1) >= total)
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"rows {start} + {stride}·i for i < {count} run past the global batch of {total}");
        (Start, Count, Stride, Total) = (start, count, stride, total);
    }

    public int Start { get; }
    public int Count { get; }
    public int Stride { get; }
    public int Total { get; }

    /// <summary>The whole batch of a process that is not part of a group.</summary>
    public static BatchRows All(int count) => new(0, count, 1, count);

    /// <summary>Rank r of W with b rows each: rows r, r + W, ... (the even split, <see cref="ShardedSampler"/>'s interleaving).</summary>
    public static BatchRows Interleaved(int rank, int worldSize, int perRank) => new(rank, perRank, worldSize, perRank * worldSize);

    /// <summary>A contiguous run of rows: a split whose shares differ between ranks.</summary>
    public static BatchRows Contiguous(int start, int count, int total) => new(start, count, 1, total);

    public bool IsAll => Count == Total;

    /// <summary>This rank's rows of a tensor holding the global batch (dimension 0), as a new tensor.</summary>
    public Tensor Select(Tensor all)
    {
        if (all.shape[0] != Total)
            throw new ArgumentException($"expected a global batch of {Total} rows, got {all.shape[0]}", nameof(all));
        if (Stride == 1) return all.narrow(0, Start, Count);
        using var index = arange(Start, Start + (long)Stride * (Count - 1) + 1, Stride, dtype: ScalarType.Int64, device: all.device);
        return all.index_select(0, index);
    }
}
