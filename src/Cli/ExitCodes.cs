namespace Orchestrator.Cli;

/// <summary>Process exit codes, stable for scripts.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Diverged = 2;
    /// <summary>Bad command line or configuration (sysexits' EX_USAGE).</summary>
    public const int Usage = 64;
    /// <summary>Interrupted by Ctrl+C after a checkpoint (128 + SIGINT).</summary>
    public const int Interrupted = 130;
}
