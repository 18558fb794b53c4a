namespace Orchestrator.Coordinator.Search;

/// <summary>What an early stopper answers to an intermediate report.</summary>
public enum StopDecision
{
    /// <summary>Keep training.</summary>
    Continue,

    /// <summary>Stop now: the trial ends as stopped_early (not failed) and its resources go back to the scheduler.</summary>
    Stop,
}
