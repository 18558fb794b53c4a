namespace Orchestrator.Cli.Commands;

/// <summary>
/// Cancels a run when the process that started it is gone (a worker agent killed with SIGKILL cannot stop its
/// trials), so an orphaned trial checkpoints and exits instead of training on for nobody.
/// </summary>
internal sealed class ParentWatcher : IDisposable
{
    private readonly Timer _timer;

    private ParentWatcher(int pid, CancellationTokenSource stop)
    {
        _timer = new Timer(_ =>
        {
            if (!Alive(pid)) stop.Cancel();
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public static ParentWatcher Start(int pid, CancellationTokenSource stop) => new(pid, stop);

    private static bool Alive(int pid)
    {
        // Reparenting to init (or a subreaper) is the sure sign on Linux; elsewhere, whether the pid still exists.
        if (OperatingSystem.IsLinux()) return Environment.ProcessId != pid && File.Exists($"/proc/{pid}/stat") && ParentOf(Environment.ProcessId) == pid;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static int ParentOf(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so parse after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return -1;
        }
    }

    public void Dispose() => _timer.Dispose();
}
