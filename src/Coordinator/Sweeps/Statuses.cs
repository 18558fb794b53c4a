namespace Orchestrator.Coordinator.Sweeps;

/// <summary>Where a sweep is.</summary>
[GenerateSerializer]
public enum SweepStatus
{
    Running = 0,
    Completed = 1,
    Failed = 2,
    Canceled = 3,
}

/// <summary>Where a trial is; every state but Queued and Running is final.</summary>
[GenerateSerializer]
public enum TrialStatus
{
    Queued = 0,
    Running = 1,
    Completed = 2,
    Failed = 3,
    Diverged = 4,
    StoppedEarly = 5,
    Canceled = 6,
}

/// <summary>How one attempt of a trial ended (or that it has not yet).</summary>
[GenerateSerializer]
public enum AttemptStatus
{
    Running = 0,
    Completed = 1,
    Failed = 2,
    Diverged = 3,
    Interrupted = 4,
    StoppedEarly = 5,
    Canceled = 6,
}
