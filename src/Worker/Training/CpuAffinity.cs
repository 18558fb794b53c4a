using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Pins training threads to CPU cores (Linux <c>sched_setaffinity</c> on the calling thread), as
/// <c>numactl --physcpubind</c>, torchrun's NUMA binding or Intel's launcher do for CPU ranks. Ranks of a group that
/// share a host meet in blocking collectives twice per step; a rank that sleeps in one is woken by a network
/// thread, and the scheduler likes to wake it where that thread ran, which can be the core another rank is computing
/// on. A pinned rank stays on its own core. Native threads a pinned thread starts (libtorch's intra-op pool) inherit
/// its cores; .NET threads do not (the runtime resets a new thread to the process's cores), so the overlapped
/// all-reduce's thread, the transport's and the runtime's own stay free to run wherever there is room.
/// </summary>
public static class CpuAffinity
{
    /// <summary>The most CPUs a mask here describes (glibc's cpu_set_t).</summary>
    public const int MaxCpus = 1024;

    private const int Words = MaxCpus / 64;

    /// <summary>Whether this platform can pin threads (Linux).</summary>
    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>The cores the calling thread may run on.</summary>
    public static IReadOnlyList<int> Allowed()
    {
        RequireSupported();
        var mask = new ulong[Words];
        if (SchedGetAffinity(0, Words * sizeof(ulong), mask) != 0)
            throw new InvalidOperationException($"sched_getaffinity failed (errno {Marshal.GetLastPInvokeError()})");
        var cores = new List<int>();
        for (int cpu = 0; cpu < MaxCpus; cpu++)
        {
            if ((mask[cpu / 64] & (1UL << (cpu % 64))) != 0) cores.Add(cpu);
        }
        return cores;
    }

    /// <summary>The core the calling thread runs on right now.</summary>
    public static int Current()
    {
        RequireSupported();
        return SchedGetCpu();
    }

    /// <summary>
    /// Pins the calling thread to <paramref name="cores"/> (and the native threads it starts later).
    /// </summary>
    /// <exception cref="ArgumentException">No cores, or a core this process may not run on, named.</exception>
    public static void Pin(IReadOnlyList<int> cores)
    {
        RequireSupported();
        if (cores.Count == 0) throw new ArgumentException("no cores to pin to", nameof(cores));
        var mask = new ulong[Words];
        foreach (int cpu in cores)
        {
            if (cpu is < 0 or >= MaxCpus) throw new ArgumentException($"core {cpu} is out of range (0 to {MaxCpus - 1})", nameof(cores));
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }
        if (SchedSetAffinity(0, Words * sizeof(ulong), mask) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // EINVAL: none of the cores is one this process (its cgroup's cpuset) may use.
            throw errno == 22
                ? new ArgumentException($"cores {Format(cores)} are not among the cores this process may use ({Format(Allowed())})", nameof(cores))
                : new InvalidOperationException($"sched_setaffinity({Format(cores)}) failed (errno {errno})");
        }
    }

    /// <summary>
    /// Checks <paramref name="cores"/> against the cores the calling thread may use and that there is at least one
    /// per part; a message naming what is wrong, or null.
    /// </summary>
    public static string? Check(IReadOnlyList<int> cores, int parts, string option)
    {
        if (!Supported) return $"{option}: pinning to cores needs Linux (this is {RuntimeInformation.OSDescription})";
        var allowed = Allowed();
        var outside = cores.Where(c => !allowed.Contains(c)).ToList();
        if (outside.Count > 0)
            return $"{option}: core(s) {Format(outside)} are not among the cores this process may use ({Format(allowed)})";
        if (cores.Count < parts) return $"{option}: {cores.Count} core(s) for {parts} replicas; give at least one core per replica";
        return null;
    }

    /// <summary>
    /// Reads a core list as taskset and cpusets write it: comma-separated cores and inclusive ranges, "0-3,8,10-11".
    /// </summary>
    /// <exception cref="FormatException">The part that is not a core or a range, named.</exception>
    public static IReadOnlyList<int> Parse(string list)
    {
        var cores = new SortedSet<int>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-');
            if (dash < 0 ? !TryCore(part, out int first) || !Add(cores, first, first)
                : !TryCore(part[..dash], out first) || !TryCore(part[(dash + 1)..], out int last) || last < first || !Add(cores, first, last))
                throw new FormatException($"'{part}' in core list '{list}' is not a core (0 to {MaxCpus - 1}) or a range of cores like 0-3");
        }
        return cores.ToList();
    }

    /// <summary>
    /// Splits <paramref name="cores"/> into <paramref name="parts"/> contiguous shares whose sizes differ by at most one
    /// (the first shares take the remainder), one per replica.
    /// </summary>
    public static IReadOnlyList<int>[] Share(IReadOnlyList<int> cores, int parts)
    {
        if (parts < 1 || cores.Count < parts)
            throw new ArgumentException($"{cores.Count} core(s) cannot be shared between {parts} part(s); each needs at least one");
        var shares = new IReadOnlyList<int>[parts];
        int start = 0;
        for (int p = 0; p < parts; p++)
        {
            int size = cores.Count / parts + (p < cores.Count % parts ? 1 : 0);
            shares[p] = cores.Skip(start).Take(size).ToList();
            start += size;
        }
        return shares;
    }

    /// <summary>A core list in the form <see cref="Parse"/> reads, ranges collapsed: "0-3,8".</summary>
    public static string Format(IReadOnlyList<int> cores)
    {
        var sorted = cores.Distinct().Order().ToList();
        var text = new StringBuilder();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            if (text.Length > 0) text.Append(',');
            text.Append(CultureInfo.InvariantCulture, $"{sorted[i]}");
            if (j > i) text.Append(CultureInfo.InvariantCulture, $"-{sorted[j]}");
            i = j + 1;
        }
        return text.ToString();
    }

    private static bool TryCore(string text, out int core) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out core) && core < MaxCpus;

    private static bool Add(SortedSet<int> cores, int first, int last)
    {
        for (int c = first; c <= last; c++) cores.Add(c);
        return true;
    }

    private static void RequireSupported()
    {
        if (!Supported) throw new PlatformNotSupportedException($"pinning threads to cores needs Linux (this is {RuntimeInformation.OSDescription})");
    }

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nint size, ulong[] mask);

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int SchedGetAffinity(int pid, nint size, [Out] ulong[] mask);

    [DllImport("libc", EntryPoint = "sched_getcpu")]
    private static extern int SchedGetCpu();
}
