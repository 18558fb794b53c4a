using Orchestrator.Worker.Data;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Data;

public sealed class BatchStreamTests
{
    // Sample i is the point (i, -i) with label i, so a batch reveals exactly which samples it holds.
    private static TrainingData Indexed(int count)
    {
        var points = new float[2 * count];
        for (int i = 0; i < count; i++) (points[2 * i], points[2 * i + 1]) = (i, -i);
        return new TrainingData("indexed", tensor(points, [count, 2]), arange(count, dtype: ScalarType.Int64), classCount: count);
    }

    private static long[] Take(BatchStream stream)
    {
        var (inputs, labels) = stream.Next();
        using (inputs)
        using (labels)
        {
            var ids = labels.data<long>().ToArray();
            var points = inputs.data<float>().ToArray();
            // Inputs and labels must come from the same rows.
            for (int i = 0; i < ids.Length; i++)
                Assert.Equal((ids[i], -ids[i]), ((long)points[2 * i], (long)points[2 * i + 1]));
            return ids;
        }
    }

    [Fact]
    public void Contiguous_rows_of_different_lengths_together_are_one_rank_s_batch_in_order()
    {
        const int count = 97, world = 3, batch = 5;
        using var data = Indexed(count);
        var single = new BatchStream(data, new ShardedSampler(count, 0, 1, seed: 8), world * batch);
        var ranks = Enumerable.Range(0, world)
            .Select(rank => new BatchStream(data, new ShardedSampler(count, rank, world, seed: 8), batch))
            .ToArray();
        // A different split every step (as a split by speed moves), across two epochs.
        int[][] splits = [[5, 5, 5], [9, 2, 4], [2, 2, 11], [7, 6, 2]];
        for (int step = 0; step < 2 * single.BatchesPerEpoch; step++)
        {
            var split = splits[step % splits.Length];
            var expected = Take(single);
            var together = new List<long>();
            int start = 0;
            for (int rank = 0; rank < world; rank++)
            {
                var (inputs, labels) = ranks[rank].Next(BatchRows.Contiguous(start, split[rank], world * batch));
                using (inputs)
                using (labels)
                    together.AddRange(labels.data<long>().ToArray());
                start += split[rank];
            }
            Assert.Equal(expected, together);
            Assert.All(ranks, r => Assert.Equal(single.Position, r.Position));
        }
    }

    [Fact]
    public void Rows_of_another_global_batch_are_refused()
    {
        using var data = Indexed(40);
        var stream = new BatchStream(data, new ShardedSampler(40, 1, 2, seed: 8), batchSize: 4);

        var e = Assert.Throws<ArgumentException>(() => stream.Next(BatchRows.Contiguous(0, 4, 16)));
        Assert.Contains("global batch of 16, but this stream's global batch is 8", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchRows.Contiguous(5, 4, 8));
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(3, 5)]
    [InlineData(4, 3)]
    [InlineData(5, 2)]
    public void Union_of_W_ranks_kth_batches_equals_the_kth_batch_of_one_rank_with_batch_W_times_b(int world, int batch)
    {
        const int count = 97;
        using var data = Indexed(count);
        var single = new BatchStream(data, new ShardedSampler(count, 0, 1, seed: 8), world * batch);
        var ranks = Enumerable.Range(0, world)
            .Select(rank => new BatchStream(data, new ShardedSampler(count, rank, world, seed: 8), batch))
            .ToArray();

        Assert.All(ranks, r => Assert.Equal(single.BatchesPerEpoch, r.BatchesPerEpoch));
        // Three epochs, so the property is checked across epoch boundaries too.
        for (int step = 0; step < 3 * single.BatchesPerEpoch; step++)
        {
            var expected = Take(single);
            var perRank = ranks.Select(Take).ToArray();

            Assert.All(perRank, ids => Assert.Equal(batch, ids.Length));
            Assert.Equal(expected.Order(), perRank.SelectMany(ids => ids).Order());
            // Stronger than set equality: rank r's i-th sample is the large batch's element r + W·i.
            for (int rank = 0; rank < world; rank++)
                for (int i = 0; i < batch; i++)
                    Assert.Equal(expected[rank + world * i], perRank[rank][i]);
        }
    }

    [Fact]
    public void Every_rank_takes_floor_of_smallest_shard_over_batch_steps_per_epoch()
    {
        using var data = Indexed(103);

        // Shards hold 26, 26, 26 and 25 samples; the 25 sets the pace: 25 / 4 = 6 batches.
        for (int rank = 0; rank < 4; rank++)
            Assert.Equal(6, new BatchStream(data, new ShardedSampler(103, rank, 4, seed: 1), batchSize: 4).BatchesPerEpoch);
        Assert.Equal(103 / 16, new BatchStream(data, new ShardedSampler(103, 0, 1, seed: 1), batchSize: 16).BatchesPerEpoch);
    }

    [Fact]
    public void Batch_stream_visits_distinct_samples_within_an_epoch_then_reshuffles()
    {
        using var data = Indexed(40);
        var sampler = new ShardedSampler(40, rank: 1, worldSize: 2, seed: 4);
        var stream = new BatchStream(data, sampler, batchSize: 6);

        var epoch0 = Enumerable.Range(0, stream.BatchesPerEpoch).SelectMany(_ => Take(stream)).ToArray();
        Assert.Equal(new BatchPosition(1, 0), stream.Position);
        var epoch1 = Enumerable.Range(0, stream.BatchesPerEpoch).SelectMany(_ => Take(stream)).ToArray();

        Assert.Equal(18, epoch0.Length);
        Assert.Equal(epoch0.Length, epoch0.Distinct().Count());
        Assert.Equal(sampler.EpochIndices(0)[..18], epoch0);
        Assert.Equal(sampler.EpochIndices(1)[..18], epoch1);
        Assert.NotEqual(epoch0, epoch1);
    }

    [Fact]
    public void Seek_resumes_exactly_where_an_uninterrupted_stream_would_be()
    {
        using var data = Indexed(61);
        var uninterrupted = new BatchStream(data, new ShardedSampler(61, 2, 3, seed: 17), batchSize: 4);
        Assert.Equal(5, uninterrupted.BatchesPerEpoch);

        var all = Enumerable.Range(0, 17).Select(_ => Take(uninterrupted)).ToArray();

        // Stop at every point, including epoch boundaries, and resume in a fresh stream, as after a restart.
        var first = new BatchStream(data, new ShardedSampler(61, 2, 3, seed: 17), batchSize: 4);
        for (int stop = 0; stop < 12; stop++)
        {
            var saved = first.Position;
            var resumed = new BatchStream(data, new ShardedSampler(61, 2, 3, seed: 17), batchSize: 4);
            resumed.Seek(saved);
            Assert.Equal(saved, resumed.Position);
            for (int k = stop; k < stop + 5; k++)
                Assert.Equal(all[k], Take(resumed));
            Assert.Equal(all[stop], Take(first));
        }
    }

    [Fact]
    public void Position_counts_batches_and_rolls_over_to_the_next_epoch()
    {
        using var data = Indexed(20);
        var stream = new BatchStream(data, new ShardedSampler(20, 0, 1, seed: 1), batchSize: 6);

        Assert.Equal(new BatchPosition(0, 0), stream.Position);
        Take(stream);
        Assert.Equal(new BatchPosition(0, 1), stream.Position);
        Take(stream);
        Take(stream);
        Assert.Equal(new BatchPosition(1, 0), stream.Position);
        stream.Seek(new BatchPosition(5, 2));
        Take(stream);
        Assert.Equal(new BatchPosition(6, 0), stream.Position);
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    [InlineData(0, 3)]
    public void Seek_rejects_positions_outside_the_stream(int epoch, int batch)
    {
        using var data = Indexed(20);
        var stream = new BatchStream(data, new ShardedSampler(20, 0, 1, seed: 1), batchSize: 6);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => stream.Seek(new BatchPosition(epoch, batch)));
        Assert.Equal("position", e.ParamName);
    }

    [Fact]
    public void Batch_stream_rejects_a_dataset_too_small_for_batch_times_world()
    {
        using var data = Indexed(30);

        var e = Assert.Throws<ArgumentException>(() => new BatchStream(data, new ShardedSampler(30, 0, 4, seed: 1), batchSize: 8));

        Assert.Equal("batchSize", e.ParamName);
        Assert.Contains("30 samples", e.Message);
        Assert.Contains("batch size 8 x world size 4", e.Message);
    }

    [Fact]
    public void Batch_stream_rejects_a_sampler_for_a_different_dataset_size()
    {
        using var data = Indexed(30);

        var e = Assert.Throws<ArgumentException>(() => new BatchStream(data, new ShardedSampler(31, 0, 1, seed: 1), batchSize: 2));

        Assert.Equal("sampler", e.ParamName);
    }

    [Fact]
    public void Batches_land_in_the_callers_dispose_scope()
    {
        using var data = Indexed(20);
        var stream = new BatchStream(data, new ShardedSampler(20, 0, 1, seed: 1), batchSize: 5);

        Tensor inputs, labels;
        using (NewDisposeScope())
        {
            (inputs, labels) = stream.Next();
            Assert.False(inputs.IsInvalid);
        }

        Assert.True(inputs.IsInvalid);
        Assert.True(labels.IsInvalid);
        Assert.False(data.Inputs.IsInvalid);
    }
}
