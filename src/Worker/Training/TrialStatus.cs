namespace Orchestrator.Worker.Training;

/// <summary>How a trial run ended, as written to summary.json.</summary>
public static class TrialStatus
{
    public const string Completed = "completed";
    public const string Diverged = "diverged";
    public const string Failed = "failed";
    /// <summary>Stopped on request after a checkpoint; resumable.</summary>
    public const string Interrupted = "interrupted";
}
