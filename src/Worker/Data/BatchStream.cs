using static TorchSharp.torch;

namespace Orchestrator.Worker.Data;

/// <summary>
/// This rank's batches, endlessly across epochs, with a position that can be saved and restored so a resumed
/// run sees exactly the batches an uninterrupted one would have. Not thread-safe.
/// </summary>
/// <remarks>
/// Rank r's batch k holds permutation positions r + W·(k·b + i), i in [0, b): the W ranks' k-th batches
/// together are positions [k·W·b, (k+1)·W·b), the k-th batch of a single rank with batch W·b. That is what
/// makes averaged gradients over W replicas equal to one large-batch step.
/// </remarks>
public sealed class BatchStream
{
    private readonly TrainingData _data;
    private readonly ShardedSampler _sampler;
    private readonly long[] _indexBuffer;
    private long[] _shard = [];
    private int _shardEpoch = -1;

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
        _indexBuffer = new long[batchSize];
    }

    public int BatchSize { get; }
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
    /// The next batch as new tensors on the data's device (inputs, int64 labels); they land in the caller's
    /// dispose scope, if any, and the caller owns them.
    /// </summary>
    public (Tensor Inputs, Tensor Labels) Next()
    {
        var (epoch, batch) = Position;
        if (_shardEpoch != epoch)
        {
            _shard = _sampler.EpochIndices(epoch);
            _shardEpoch = epoch;
        }
        Array.Copy(_shard, (long)batch * BatchSize, _indexBuffer, 0, BatchSize);
        Position = batch + 1 == BatchesPerEpoch ? new BatchPosition(epoch + 1, 0) : new BatchPosition(epoch, batch + 1);

        // torch.tensor copies the buffer, so reusing it for the next batch is safe.
        using var index = tensor(_indexBuffer, device: _data.Inputs.device);
        return (_data.Inputs.index_select(0, index), _data.Labels.index_select(0, index));
    }
}
