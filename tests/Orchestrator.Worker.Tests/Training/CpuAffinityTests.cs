using Orchestrator.Worker.Training;

namespace Orchestrator.Worker.Tests.Training;

public sealed class CpuAffinityTests
{
    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData("0-3,8,10-11", new[] { 0, 1, 2, 3, 8, 10, 11 })]
    [InlineData(" 5 , 2,2, 1-2", new[] { 1, 2, 5 })]
    [InlineData("1023", new[] { 1023 })]
    public void A_core_list_reads_like_taskset_s(string list, int[] expected) => Assert.Equal(expected, CpuAffinity.Parse(list));

    [Theory]
    [InlineData("", "''")]
    [InlineData("a", "'a'")]
    [InlineData("0,,1", "''")]
    [InlineData("3-1", "'3-1'")]
    [InlineData("-1", "'-1'")]
    [InlineData("0-", "'0-'")]
    [InlineData("1024", "'1024'")]
    [InlineData("+1", "'+1'")]
    public void A_bad_core_list_is_refused_naming_the_part(string list, string part)
    {
        var error = Assert.Throws<FormatException>(() => CpuAffinity.Parse(list));
        Assert.Contains($"{part} in core list '{list}'", error.Message);
    }

    [Fact]
    public void A_core_list_is_written_with_ranges_and_read_back()
    {
        Assert.Equal("0-3,8,10-11", CpuAffinity.Format([11, 0, 1, 2, 3, 8, 10, 3]));
        Assert.Equal("7", CpuAffinity.Format([7]));
        Assert.Equal([0, 1, 2, 3, 8, 10, 11], CpuAffinity.Parse(CpuAffinity.Format([0, 1, 2, 3, 8, 10, 11])));
    }

    [Fact]
    public void Cores_are_shared_in_contiguous_parts_that_differ_by_at_most_one()
    {
        var shares = CpuAffinity.Share([0, 1, 2, 3, 4, 5, 6], 3);
        Assert.Equal([[0, 1, 2], [3, 4], [5, 6]], shares.Select(s => s.ToArray()).ToArray());
        Assert.Equal([[4], [9]], CpuAffinity.Share([4, 9], 2).Select(s => s.ToArray()).ToArray());
        var error = Assert.Throws<ArgumentException>(() => CpuAffinity.Share([0, 1], 3));
        Assert.Contains("2 core(s) cannot be shared between 3", error.Message);
    }

    [Fact]
    public void A_pinned_thread_runs_only_on_its_core_and_other_threads_stay_free()
    {
        var before = CpuAffinity.Allowed();
        Assert.NotEmpty(before);
        int core = before[^1];
        IReadOnlyList<int>? pinned = null, inherited = null;
        var ran = new HashSet<int>();
        var thread = new Thread(() =>
        {
            CpuAffinity.Pin([core]);
            pinned = CpuAffinity.Allowed();
            // Where the scheduler actually runs it, over a few slices of work.
            for (int i = 0; i < 200; i++)
            {
                ran.Add(CpuAffinity.Current());
                Thread.SpinWait(10_000);
                if (i % 50 == 0) Thread.Sleep(1);
            }
            var child = new Thread(() => inherited = CpuAffinity.Allowed());
            child.Start();
            child.Join();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(new[] { core }, pinned!.ToArray());
        Assert.Equal(new[] { core }, ran.ToArray());
        // .NET resets a new managed thread to the process's cores (native threads, libtorch's pool, inherit them).
        Assert.Equal(before.ToArray(), inherited!.ToArray());
        Assert.Equal(before.ToArray(), CpuAffinity.Allowed().ToArray());
    }

    [Fact]
    public void Pinning_to_a_core_this_process_may_not_use_is_refused_naming_the_cores()
    {
        var allowed = CpuAffinity.Allowed();
        int outside = Enumerable.Range(0, CpuAffinity.MaxCpus).Last(c => !allowed.Contains(c));
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                CpuAffinity.Pin([outside]);
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        var refused = Assert.IsType<ArgumentException>(error);
        Assert.Contains($"cores {outside} are not among the cores this process may use ({CpuAffinity.Format(allowed)})", refused.Message);

        Assert.Equal($"--cores: core(s) {outside} are not among the cores this process may use ({CpuAffinity.Format(allowed)})",
            CpuAffinity.Check([allowed[0], outside], 1, "--cores"));
        Assert.Equal("--cores: 1 core(s) for 2 replicas; give at least one core per replica", CpuAffinity.Check([allowed[0]], 2, "--cores"));
        Assert.Null(CpuAffinity.Check([allowed[0]], 1, "--cores"));
    }
}
