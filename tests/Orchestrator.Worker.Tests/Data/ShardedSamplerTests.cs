using Orchestrator.Worker.Data;

namespace Orchestrator.Worker.Tests.Data;

public sealed class ShardedSamplerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Sampler_shards_partition_the_dataset_every_epoch(int world)
    {
        // 103 is prime, so no world size above 1 divides it and the shards differ in size.
        const int count = 103;
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var shards = Enumerable.Range(0, world)
                .Select(rank => new ShardedSampler(count, rank, world, seed: 11).EpochIndices(epoch))
                .ToArray();

            var all = shards.SelectMany(s => s).Order().ToArray();
            Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), all);
            Assert.True(shards.Max(s => s.Length) - shards.Min(s => s.Length) <= 1);
            Assert.Equal(count / world, shards.Min(s => s.Length));
        }
    }

    [Fact]
    public void Sampler_rank_r_takes_positions_r_plus_multiples_of_world_of_the_shared_permutation()
    {
        var permutation = new ShardedSampler(50, rank: 0, worldSize: 1, seed: 3).EpochIndices(2);

        for (int rank = 0; rank < 4; rank++)
        {
            var sampler = new ShardedSampler(50, rank, worldSize: 4, seed: 3);
            Assert.Equal(permutation, sampler.Permutation(2));
            var expected = permutation.Where((_, position) => position % 4 == rank);
            Assert.Equal(expected, sampler.EpochIndices(2));
        }
    }

    [Fact]
    public void Sampler_is_deterministic_for_a_seed_and_epoch()
    {
        var a = new ShardedSampler(1_000, rank: 1, worldSize: 3, seed: 99);
        var b = new ShardedSampler(1_000, rank: 1, worldSize: 3, seed: 99);

        Assert.Equal(a.EpochIndices(4), b.EpochIndices(4));
        // Asking out of order or twice changes nothing: there is no hidden state.
        var late = a.EpochIndices(7);
        Assert.Equal(late, b.EpochIndices(7));
        Assert.Equal(a.EpochIndices(4), b.EpochIndices(4));
    }

    [Fact]
    public void Sampler_permutation_is_pinned_so_it_matches_on_every_platform()
    {
        // Ranks on different machines and resumed runs must agree on the order; any change to the PRNG or
        // the shuffle shows up here rather than as silently different training data.
        var permutation = new ShardedSampler(10, rank: 0, worldSize: 1, seed: 2024).Permutation(0);

        Assert.Equal(PinnedPermutation, permutation);
    }

    [Fact]
    public void Sampler_orders_differ_between_epochs_and_between_seeds()
    {
        var sampler = new ShardedSampler(1_000, rank: 0, worldSize: 2, seed: 1);
        var other = new ShardedSampler(1_000, rank: 0, worldSize: 2, seed: 2);

        Assert.NotEqual(sampler.EpochIndices(0), sampler.EpochIndices(1));
        Assert.NotEqual(sampler.EpochIndices(1), sampler.EpochIndices(2));
        Assert.NotEqual(sampler.EpochIndices(0), other.EpochIndices(0));
        // A shuffle, not the identity.
        Assert.NotEqual(Enumerable.Range(0, 1_000).Select(i => (long)i), sampler.Permutation(0));
    }

    [Theory]
    [InlineData(10, 0, 0, "worldSize")]
    [InlineData(10, -1, 2, "rank")]
    [InlineData(10, 2, 2, "rank")]
    [InlineData(3, 0, 4, "count")]
    public void Sampler_rejects_invalid_arguments_naming_them(int count, int rank, int world, string argument)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ShardedSampler(count, rank, world, seed: 0));

        Assert.Equal(argument, e.ParamName);
    }

    [Fact]
    public void Sampler_rejects_a_negative_epoch()
    {
        var sampler = new ShardedSampler(10, 0, 1, seed: 0);

        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.EpochIndices(-1));
    }

    // Computed independently with a reference SplitMix64 (Vigna's, first output for seed 1234567 is
    // 6457827717110365317) and the same Fisher-Yates, so this also checks the C# port of the generator.
    private static readonly long[] PinnedPermutation = [2, 6, 5, 8, 9, 0, 1, 3, 4, 7];
}
