using System.Collections;
using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Keeps libtorch's CPU tensor memory inside the process between steps. glibc's malloc serves blocks of 128 KiB and
/// more (most activations, gradients and im2col buffers) with fresh <c>mmap</c>s, raises that threshold only as it
/// sees frees, and gives memory above 2x the threshold back to the kernel: a training step's working set is mapped,
/// zero-filled page by page and unmapped again, step after step. On the dp_scaling DCGAN that was 786k minor page
/// faults and 9% of the process's CPU time in the kernel over 200 steps (57k and 1% with the settings below), and two
/// trainers sharing a host pay it twice out of the same memory bandwidth. PyTorch's CPU tuning guide answers the
/// same problem with jemalloc or tcmalloc; this does it with glibc's own malloc: blocks up to 32 MiB (the largest
/// threshold glibc accepts) come from the heap, freed memory up to 1 GiB stays there for the next step, the way
/// a caching allocator keeps it, and every heap keeps 64 MiB of slack: a group's replica trains on a thread of its
/// own, whose arena is made of 64 MiB heaps that glibc unmaps whenever one empties, whatever the trim threshold
/// (24,000 faults per step for a 144 MiB working set in the test; on dp_scaling, 1,400-2,000 faults per step
/// down to 50-80).
/// </summary>
/// <remarks>
/// Applied once per process by the first <see cref="GanTrainer"/>. Left alone where the user sets these thresholds
/// (the <c>MALLOC_..._</c> variables or the <c>glibc.malloc</c> tunables), preloads another allocator, sets
/// <c>ORCHESTRATOR_NATIVE_HEAP=off</c>, or where the C library is not glibc (musl has no <c>mallopt</c>).
/// </remarks>
public static class NativeHeap
{
    /// <summary>The variable that turns the tuning off ("off").</summary>
    public const string Switch = "ORCHESTRATOR_NATIVE_HEAP";

    /// <summary>Blocks up to this size are served from the heap (glibc's maximum on 64-bit: HEAP_MAX_SIZE / 2).</summary>
    public const int MmapThresholdBytes = 32 * 1024 * 1024;

    /// <summary>Free memory kept at the top of the heap before any is returned to the kernel.</summary>
    public const int TrimThresholdBytes = 1024 * 1024 * 1024;

    /// <summary>
    /// Slack kept with every heap a thread's arena grows, and the free space an arena keeps before it deletes a whole
    /// heap: a training thread other than the main one allocates from its own arena, made of heaps of at most 64 MiB,
    /// and glibc unmaps such a heap as soon as it is entirely free (the trim threshold does not apply to that), so a
    /// step that needs one more heap than the last maps it, faults it in and unmaps it again.
    /// </summary>
    public const int TopPadBytes = 64 * 1024 * 1024;

    private const int M_TRIM_THRESHOLD = -1;
    private const int M_TOP_PAD = -2;
    private const int M_MMAP_THRESHOLD = -3;

    // What a user who tunes these thresholds (or replaces malloc) sets; their choice wins.
    private static readonly string[] UserSettings = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"];
    private static readonly string[] TunableNames =
        ["glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold", "glibc.malloc.top_pad", "glibc.malloc.mmap_max"];
    private static readonly string[] Allocators = ["jemalloc", "tcmalloc", "mimalloc"];

    private static readonly Lock Gate = new();
    private static string? _outcome;

    /// <summary>What <see cref="Configure"/> did in this process: "tuned", or why not; null before the first call.</summary>
    public static string? Outcome
    {
        get
        {
            lock (Gate) return _outcome;
        }
    }

    /// <summary>
    /// Why the tuning must not be applied under <paramref name="environment"/>, or null when it should be.
    /// </summary>
    public static string? ReasonToSkip(IDictionary environment, bool isLinux)
    {
        if (!isLinux) return "not Linux";
        if (environment[Switch] is string value && value.Trim().Equals("off", StringComparison.OrdinalIgnoreCase))
            return $"{Switch}=off";
        foreach (string name in UserSettings)
            if (environment[name] is string) return $"the environment sets {name}";
        if (environment["GLIBC_TUNABLES"] is string tunables &&
            TunableNames.FirstOrDefault(t => tunables.Contains(t, StringComparison.Ordinal)) is { } tunable)
            return $"GLIBC_TUNABLES sets {tunable}";
        if (environment["LD_PRELOAD"] is string preload &&
            Allocators.FirstOrDefault(a => preload.Contains(a, StringComparison.OrdinalIgnoreCase)) is { } allocator)
            return $"LD_PRELOAD brings {allocator}";
        return null;
    }

    /// <summary>Applies the thresholds once per process (later calls return the first call's outcome).</summary>
    public static string Configure()
    {
        lock (Gate)
        {
            if (_outcome is not null) return _outcome;
            string? skip = ReasonToSkip(Environment.GetEnvironmentVariables(), OperatingSystem.IsLinux());
            if (skip is not null) return _outcome = "left alone: " + skip;
            try
            {
                // mallopt returns 1 on success and 0 for a value glibc refuses.
                if (mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes) != 1 || mallopt(M_TRIM_THRESHOLD, TrimThresholdBytes) != 1 ||
                    mallopt(M_TOP_PAD, TopPadBytes) != 1)
                    return _outcome = "left alone: glibc refused the thresholds";
                return _outcome = "tuned";
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                return _outcome = "left alone: the C library has no mallopt (not glibc)";
            }
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
