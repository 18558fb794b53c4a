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
        nint large = Marshal.AllocHGlobal(40 * 1024 * 1024);
        try
        {
            Assert.False(IsMapped(medium), "a 24 MiB block was mapped on its own: the mmap threshold was not raised");
            // Above the 32 MiB limit glibc still maps: the check tells the two apart.
            Assert.True(IsMapped(large), "a 40 MiB block was not mapped on its own: the check cannot see mappings");
        }
        finally
        {
            Marshal.FreeHGlobal(medium);
            Marshal.FreeHGlobal(large);
        }
    }

    private static bool IsMapped(nint block) => (Marshal.ReadInt64(block - sizeof(long)) & 2) != 0;
}
