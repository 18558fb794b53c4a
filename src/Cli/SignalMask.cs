using System.Runtime.InteropServices;

namespace Orchestrator.Cli;

/// <summary>
/// Makes sure the stop signals can reach this process. A signal mask survives fork and exec: a parent that starts
/// us from a thread with SIGINT or SIGTERM blocked (a native library's thread, a supervisor that blocks them while
/// it forks) leaves those signals pending for ever, so Ctrl+C, a worker's stop request and a pod's termination
/// would all go unanswered until the SIGKILL that follows, and the run would lose the checkpoint it should have
/// written. An ignored SIGINT inherited from a shell (a background job, nohup) is a choice the parent made and is
/// left as it is; SIGTERM still stops the process then.
/// </summary>
internal static class SignalMask
{
    // Linux (x86-64 and arm64) numbering and glibc's sigset_t: 1024 bits, signal s at bit s - 1.
    private const int SigUnblock = 1;
    private const int SigInt = 2;
    private const int SigTerm = 15;
    private const int SetWords = 1024 / 64;

    /// <summary>
    /// Unblocks SIGINT and SIGTERM on the calling thread. Called first thing on the main thread: a signal sent to the
    /// process goes to a thread that does not block it, and the threads the main thread starts inherit its mask.
    /// </summary>
    public static void UnblockStopSignals()
    {
        if (!OperatingSystem.IsLinux()) return;
        var set = new ulong[SetWords];
        set[0] = (1UL << (SigInt - 1)) | (1UL << (SigTerm - 1));
        int error = PthreadSigmask(SigUnblock, set, null);
        if (error != 0) throw new InvalidOperationException($"pthread_sigmask failed with error {error}: SIGINT and SIGTERM may stay blocked.");
    }

    // pthread_sigmask returns the error number (not -1 and errno); the old set may be null.
    [DllImport("libc", EntryPoint = "pthread_sigmask")]
    private static extern int PthreadSigmask(int how, ulong[] set, ulong[]? oldSet);
}
