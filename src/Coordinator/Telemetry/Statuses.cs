using Orchestrator.Coordinator.Sweeps;

namespace Orchestrator.Coordinator.Telemetry;

/// <summary>Lower-case snake names of statuses for attributes and the dashboard (stable, unlike enum ToString casing).</summary>
public static class Statuses
{
    public static string Name(TrialStatus status) => status switch
    {
        TrialStatus.Queued => "queued",
        TrialStatus.Running => "running",
        TrialStatus.Completed => "completed",
        TrialStatus.Failed => "failed",
        TrialStatus.Diverged => "diverged",
        TrialStatus.StoppedEarly => "stopped_early",
        TrialStatus.Canceled => "canceled",
        _ => "unknown",
    };

    public static string Name(SweepStatus status) => status switch
    {
        SweepStatus.Running => "running",
        SweepStatus.Completed => "completed",
        SweepStatus.Failed => "failed",
        SweepStatus.Canceled => "canceled",
        _ => "unknown",
    };

    public static string Name(AttemptStatus status) => status switch
    {
        AttemptStatus.Running => "running",
        AttemptStatus.Completed => "completed",
        AttemptStatus.Failed => "failed",
        AttemptStatus.Diverged => "diverged",
        AttemptStatus.Interrupted => "interrupted",
        AttemptStatus.StoppedEarly => "stopped_early",
        AttemptStatus.Canceled => "canceled",
        _ => "unknown",
    };
}
