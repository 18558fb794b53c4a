using Orchestrator.Worker.Training;

namespace Orchestrator.Worker.Tests.Training;

public sealed class BatchBalancerTests
{
    /// <summary>Ranks whose step takes fixed + perSample·n milliseconds' worth of seconds; returns each rank's rate for the current split.</summary>
    private static float[] Rates(BatchBalancer balancer, double fixedSeconds, double[] perSample) =>
        Enumerable.Range(0, balancer.WorldSize)
            .Select(r => (float)(balancer.Counts[r] / (fixedSeconds + perSample[r] * 1e-3 * balancer.Counts[r])))
            .ToArray();

    [Fact]
    public void The_split_starts_even_and_a_missing_measurement_changes_nothing()
    {
        var balancer = new BatchBalancer(3, 16);

        Assert.Equal([16, 16, 16], balancer.Counts);
        Assert.False(balancer.Observe([0f, 0f, 0f])); // the first step has no measurement
        Assert.False(balancer.Observe([100f, float.NaN, 50f]));
        Assert.False(balancer.Observe([100f, -1f, 50f]));
        Assert.False(balancer.Observe([100f, float.PositiveInfinity, 50f]));
        Assert.Equal([16, 16, 16], balancer.Counts);
        Assert.Throws<ArgumentException>(() => balancer.Observe([1f, 1f]));
    }

    [Theory]
    [InlineData(2, 64, new[] { 1.0, 2.0 })]
    [InlineData(2, 64, new[] { 1.0, 1.4 })]
    [InlineData(3, 32, new[] { 1.0, 1.5, 2.0 })]
    [InlineData(4, 16, new[] { 2.0, 1.0, 1.0, 1.25 })]
    public void The_split_settles_where_every_rank_s_step_takes_about_as_long(int world, int perRank, double[] perSample)
    {
        const double fixedSeconds = 0.004;
        var balancer = new BatchBalancer(world, perRank);
        for (int step = 0; step < 100; step++) balancer.Observe(Rates(balancer, fixedSeconds, perSample));

        Assert.Equal(world * perRank, balancer.Counts.Sum());
        var times = Enumerable.Range(0, world).Select(r => fixedSeconds + perSample[r] * 1e-3 * balancer.Counts[r]).ToArray();
        // Within what two quanta of samples (plus one for rounding the total) cost on the slowest rank, where the
        // even split leaves them apart by a third or more.
        double tolerance = perSample.Max() * 1e-3 * (2 * balancer.Quantum + 1);
        Assert.True(times.Max() - times.Min() <= tolerance,
            $"step times {string.Join(", ", times.Select(t => t.ToString("F4")))} with split {string.Join("/", balancer.Counts)}");
        // The rows tile the global batch in rank order.
        int start = 0;
        for (int r = 0; r < world; r++)
        {
            var rows = balancer.RowsOf(r);
            Assert.Equal((start, balancer.Counts[r], 1, world * perRank), (rows.Start, rows.Count, rows.Stride, rows.Total));
            start += rows.Count;
        }
    }

    [Fact]
    public void Small_differences_do_not_move_the_split_and_counts_move_in_quanta()
    {
        var balancer = new BatchBalancer(2, 64);
        Assert.Equal(4, balancer.Quantum);

        // 3% apart: the ideal split (65/63) is within one quantum of the even one.
        for (int step = 0; step < 50; step++) Assert.False(balancer.Observe([103f, 100f]));
        Assert.Equal([64, 64], balancer.Counts);

        Assert.True(balancer.Observe([150f, 100f]));
        Assert.All(balancer.Counts, c => Assert.Equal(0, c % balancer.Quantum));
        Assert.Equal(128, balancer.Counts.Sum());
        Assert.True(balancer.Counts[0] > balancer.Counts[1]);
    }

    [Fact]
    public void A_very_slow_rank_keeps_a_quarter_of_its_even_share_and_reset_returns_to_even()
    {
        var balancer = new BatchBalancer(2, 64);
        for (int step = 0; step < 100; step++) balancer.Observe(Rates(balancer, 0, [1.0, 100.0]));

        Assert.Equal([112, 16], balancer.Counts);
        Assert.Equal(16, balancer.Minimum);

        balancer.Reset();
        Assert.Equal([64, 64], balancer.Counts);
        // No memory of the old rates: equal ranks stay even.
        Assert.False(balancer.Observe([10f, 10f]));
    }

    [Fact]
    public void Equal_inputs_give_equal_splits_so_every_rank_agrees()
    {
        var random = new Random(5);
        var a = new BatchBalancer(3, 20);
        var b = new BatchBalancer(3, 20);
        for (int step = 0; step < 200; step++)
        {
            float[] rates = [(float)(50 + 40 * random.NextDouble()), (float)(50 + 40 * random.NextDouble()), (float)(20 + 80 * random.NextDouble())];
            Assert.Equal(a.Observe(rates), b.Observe(rates));
            Assert.Equal(a.Counts, b.Counts);
            Assert.Equal(60, a.Counts.Sum());
            Assert.All(a.Counts, c => Assert.InRange(c, a.Minimum, a.Maximum));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void A_per_rank_batch_below_two_cannot_be_split(int perRank)
    {
        Assert.False(BatchBalancer.CanBalance(perRank));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchBalancer(2, perRank));
    }
}
