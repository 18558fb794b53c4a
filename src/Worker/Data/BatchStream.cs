using static TorchSharp.torch;

namespace Orchestrator.Worker.Data;

/// <summary>
/// This rank's batches, endlessly across epochs, with a position that can be saved and restored so a resumed
/// run sees exactly the batches an uninterrupted one would have. Not thread-safe.
/// </summary>
/// <remarks>
/// Batch k of the group is permutation positions [k·W·b, (k+1)·W·b), the k-th batch of a single rank with batch
/// W·b; each rank takes its <see cref="BatchRows"/> of it. With the even split rank r holds positions
/// k·W·b + r + W·i, i in [0, b) (its shard of <see cref="ShardedSampler"/>); a split by speed gives ranks
/// contiguous runs of different lengths. Either way the W ranks' k-th batches together are the single rank's
/// k-th batch, which is what makes averaged gradients over W replicas equal to one large-batch step.
/// </remarks>
public sealed class BatchStream
{
    private readonly TrainingData _data;
    private readonly ShardedSampler _sampler;
    private readonly long[] _indexBuffer;
    private long[] _permutation = [];
    private int _permutationEpoch = -1;

    public BatchStream(TrainingData data, ShardedSampler sampler, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (sampler.Count != data.Count)
            throw new ArgumentException($"sampler covers {sampler.Count} samples but the dataset {data.Name} holds {data.Count}", nameof(sampler));
        // Every rank must take the same number of steps per epoch, or the all-reduce of the rank with the
        // larger shard would wait for peers that have already moved on; so the smallest shard sets the pace.
        BatchesPerEpoch = sampler.MinShardSize / batchSize;
        if (BatchesPerEpoch == 0)
            throw new ArgumentException(
                $"dataset {data.Name} has {data.Count} samples, too few for batch size {batchSize} x world size {sampler.WorldSize} " +
                $"(needs at least {(long)batchSize * sampler.WorldSize})", nameof(batchSize));
        _data = data;
        _sampler = sampler;
        BatchSize = batchSize;
        GlobalBatchSize = batchSize * sampler.WorldSize;
        _indexBuffer = new long[GlobalBatchSize];
        EvenRows = BatchRows.Interleaved(sampler.Rank, sampler.WorldSize, batchSize);
    }

    /// <summary>Per-rank batch of the even split.</summary>
    public int BatchSize { get; }
    /// <summary>The group's batch: <see cref="BatchSize"/> x world size.</summary>
    public int GlobalBatchSize { get; }
    /// <summary>This rank's rows under the even split.</summary>
    public BatchRows EvenRows { get; }
    public int BatchesPerEpoch { get; }

    /// <summary>The batch <see cref="Next"/> returns next; after an epoch's last batch it is (epoch + 1, 0).</summary>
    public BatchPosition Position { get; private set; }

    /// <summary>Moves to a position saved from <see cref="Position"/>, e.g. in a checkpoint.</summary>
    public void Seek(BatchPosition position)
    {
        if (position.Epoch < 0)
            throw new ArgumentOutOfRangeException(nameof(position), position, "epoch must not be negative");
        if (position.Batch < 0 || position.Batch >= BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"batch must be in [0, {BatchesPerEpoch})");
        Position = position;
    }

    /// <summary>
    /// This rank's rows of the next batch (the even split) as new tensors on the data's device (inputs, int64
    /// labels); they land in the caller's dispose scope, if any, and the caller owns them.
    /// </summary>
    public (Tensor Inputs, Tensor Labels) Next() => Next(EvenRows);

    /// <summary>The given rows of the group's next batch (see <see cref="Next()"/>); every rank must move on together.</summary>
    public (Tensor Inputs, Tensor Labels) Next(BatchRows rows)
    {
        if (rows.Total != GlobalBatchSize)
            throw new ArgumentException($"rows of a global batch of {rows.Total}, but this stream's global batch is {GlobalBatchSize}", nameof(rows));
        var (epoch, batch) = Position;
        if (_permutationEpoch != epoch)
        {
            _permutation = _sampler.Permutation(epoch);
            _permutationEpoch = epoch;
        }
        long first = (long)batch * GlobalBatchSize + rows.Start;
        for (int i = 0; i < rows.Count; i++) _indexBuffer[i] = _permutation[first + (long)rows.Stride * i];
        Position = batch + 1 == BatchesPerEpoch ? new BatchPosition(epoch + 1, 0) : new BatchPosition(epoch, batch + 1);

        // torch.tensor copies the buffer, so reusing it for the next batch is safe.
        using var buffer = tensor(_indexBuffer, device: _data.Inputs.device);
        using var index = buffer.narrow(0, 0, rows.Count);
        return (_data.Inputs.index_select(0, index), _data.Labels.index_select(0, index));
    }
}
