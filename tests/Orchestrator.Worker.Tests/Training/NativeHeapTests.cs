using System.Collections;
using System.Runtime.InteropServices;
using Orchestrator.Worker.Training;

namespace Orchestrator.Worker.Tests.Training;

public sealed class NativeHeapTests
{
    [Fact]
    public void Tunes_a_plain_Linux_environment()
    {
        Assert.Null(NativeHeap.ReasonToSkip(new Hashtable { ["PATH"] = "/usr/bin", ["MALLOC_ARENA_MAX"] = "2" }, isLinux: true));
        Assert.Null(NativeHeap.ReasonToSkip(new Hashtable { ["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=0" }, isLinux: true));
        Assert.Null(NativeHeap.ReasonToSkip(new Hashtable { [NativeHeap.Switch] = "on" }, isLinux: true));
    }

    [Theory]
    [InlineData("ORCHESTRATOR_NATIVE_HEAP", "off", "ORCHESTRATOR_NATIVE_HEAP=off")]
    [InlineData("ORCHESTRATOR_NATIVE_HEAP", " OFF ", "ORCHESTRATOR_NATIVE_HEAP=off")]
    [InlineData("MALLOC_MMAP_THRESHOLD_", "131072", "MALLOC_MMAP_THRESHOLD_")]
    [InlineData("MALLOC_TRIM_THRESHOLD_", "0", "MALLOC_TRIM_THRESHOLD_")]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.check=0:glibc.malloc.trim_threshold=0", "glibc.malloc.trim_threshold")]
    [InlineData("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "jemalloc")]
    public void Leaves_a_user_s_own_malloc_settings_alone(string name, string value, string named)
    {
        string? reason = NativeHeap.ReasonToSkip(new Hashtable { [name] = value }, isLinux: true);
        Assert.NotNull(reason);
        Assert.Contains(named, reason);
    }

    [Fact]
    public void Does_nothing_off_Linux() =>
        Assert.Equal("not Linux", NativeHeap.ReasonToSkip(new Hashtable(), isLinux: false));

    [Fact]
    public void Blocks_up_to_32_MiB_come_from_the_heap_once_tuned()
    {
        Assert.True(OperatingSystem.IsLinux(), "these tests run on Linux (glibc)");
        Assert.Equal("tuned", NativeHeap.Configure());
        Assert.Equal("tuned", NativeHeap.Configure());
        Assert.Equal("tuned", NativeHeap.Outcome);

        // glibc marks a chunk it mapped on its own with IS_MMAPPED (0x2) in the size word just before the block.
        // Untuned, a 24 MiB block is mapped (the threshold starts at 128 KiB); tuned, it comes from the heap.
        // AllocHGlobal is malloc on Unix, as libtorch's CPU allocator is.
        nint medium = Marshal.AllocHGlobal(24 * 1024 * 1024);
        // The control is larger than any free memory an arena may hold (heaps keep up to 1 GiB when tuned), so glibc
        // must map it: a smaller one could be carved from memory an earlier test freed.
        nint large = Marshal.AllocHGlobal(1536 * 1024 * 1024);
        try
        {
            Assert.False(IsMapped(medium), "a 24 MiB block was mapped on its own: the mmap threshold was not raised");
            // Above the 32 MiB limit glibc still maps what it cannot serve from memory it holds: the check tells the two apart.
            Assert.True(IsMapped(large), "a 1.5 GiB block was not mapped on its own: the check cannot see mappings");
        }
        finally
        {
            Marshal.FreeHGlobal(medium);
            Marshal.FreeHGlobal(large);
        }
    }

    [Fact]
    public void A_training_thread_s_steps_stop_faulting_in_memory_once_its_arena_has_grown()
    {
        Assert.Equal("tuned", NativeHeap.Configure());
        // A thread other than the main one allocates from its own arena, made of heaps of at most 64 MiB, and glibc
        // unmaps such a heap as soon as it is entirely free unless the top pad asks it to keep that much. A "step"
        // here needs 144 MiB in 24 MiB blocks (more than two heaps), writes them and frees them. Untuned, every step
        // maps its last heaps afresh and faults their pages in again (~6,000 faults per 24 MiB); tuned, only the first.
        const int Block = 24 * 1024 * 1024, Blocks = 6, Steps = 4;
        var data = new byte[Block];
        Array.Fill(data, (byte)1);
        var faults = new long[Steps];
        string? arena = null;
        // Once a process has as many arenas as glibc allows (8 per core), a new thread shares one in turn, and that
        // may be the main one (a test process has many threads): then another thread takes the next arena.
        for (int attempt = 0; attempt < 32 && arena != "its own"; attempt++)
        {
            arena = null;
            var thread = new Thread(() =>
            {
                for (int step = 0; step < Steps; step++)
                {
                    long before = ThreadMinorFaults();
                    var blocks = Enumerable.Range(0, Blocks).Select(_ => Marshal.AllocHGlobal(Block)).ToArray();
                    arena ??= (Marshal.ReadInt64(blocks[^1] - sizeof(long)) & 4) != 0 ? "its own" : "the main one";
                    foreach (var block in blocks) Marshal.Copy(data, 0, block, Block);
                    foreach (var block in blocks) Marshal.FreeHGlobal(block);
                    faults[step] = ThreadMinorFaults() - before;
                    if (arena != "its own") return;
                }
            });
            thread.Start();
            thread.Join();
        }
        Assert.Equal("its own", arena); // glibc's NON_MAIN_ARENA bit: the case under test
        Assert.True(faults.Skip(1).All(f => f < 2_000),
            $"minor page faults per step after the first: {string.Join(", ", faults.Skip(1))} (first: {faults[0]})");
    }

    /// <summary>Minor page faults of the calling thread (getrusage RUSAGE_THREAD).</summary>
    private static long ThreadMinorFaults()
    {
        Assert.Equal(0, getrusage(1, out var usage));
        return usage.MinorFaults;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicros, SystemSeconds, SystemMicros, MaxRss, IxRss, IdRss, IsRss, MinorFaults, MajorFaults,
            Swaps, BlocksIn, BlocksOut, MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [DllImport("libc")]
    private static extern int getrusage(int who, out RUsage usage);

    private static bool IsMapped(nint block) => (Marshal.ReadInt64(block - sizeof(long)) & 2) != 0;
}
