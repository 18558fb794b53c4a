using System.Runtime.InteropServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Linux futexes on words of a shared mapping: a process sleeps in the kernel until another process changes the word
/// and wakes it, with no thread of its own spinning and no socket in between (what glibc's process-shared mutexes and
/// NCCL's shared-memory transport wait on).
/// </summary>
internal static unsafe class Futex
{
    private const int WaitOp = 0;
    private const int WakeOp = 1;
    private const int TimedOut = 110; // ETIMEDOUT

    // syscall(2) numbers of futex(2); the other architectures .NET runs on get no shared-memory path.
    private static readonly long Number = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        _ => -1,
    };

    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && Number > 0;

    /// <summary>
    /// Sleeps while <c>*word == <paramref name="expected"/></c>, for at most <paramref name="timeoutMilliseconds"/>;
    /// returns at once when the word already differs. A wake, a signal, a timeout or a spurious return look alike:
    /// callers re-read the word.
    /// </summary>
    public static void Wait(int* word, int expected, int timeoutMilliseconds)
    {
        var timeout = new Timespec { Seconds = timeoutMilliseconds / 1000, Nanoseconds = timeoutMilliseconds % 1000 * 1_000_000L };
        if (Syscall(Number, word, WaitOp, expected, &timeout, 0, 0) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            // EAGAIN (the word had changed), EINTR and ETIMEDOUT are the normal outcomes; anything else is a bug here.
            if (error is not (11 or 4 or TimedOut))
                throw new InvalidOperationException($"futex wait failed with errno {error}");
        }
    }

    /// <summary>Wakes every thread, in any process, sleeping on <paramref name="word"/>.</summary>
    public static void WakeAll(int* word) => Syscall(Number, word, WakeOp, int.MaxValue, null, 0, 0);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    // syscall(2) is variadic; on x86-64 and AArch64 Linux its integer arguments travel in the same registers as a
    // fixed-argument call's, which is how glibc's own futex wrappers reach it.
    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static extern long Syscall(long number, int* word, int operation, int value, Timespec* timeout, nint word2, int value3);
}
