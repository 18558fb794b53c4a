namespace Orchestrator.Coordinator.Sweeps;

/// <summary>What an ended attempt means for its trial.</summary>
public enum TrialDecision
{
    Complete,
    Fail,
    Diverge,
    StopEarly,
    /// <summary>Queue a new attempt, resuming from the trial's newest checkpoint.</summary>
    Retry,
    Cancel,
}

/// <summary>
/// Retries only what infrastructure broke: an attempt lost with its worker's lease or interrupted is re-run up to
/// max_retries times; a trial's own failures (diverged, failed: a bad configuration or an error in the trial) are
/// final and count toward max_failed_trials, because running them again would fail again.
/// </summary>
public static class RetryPolicy
{
    /// <param name="ended">How the attempt ended.</param>
    /// <param name="interruptedAttempts">The trial's interrupted attempts, this one included.</param>
    /// <param name="maxRetries">budget.max_retries.</param>
    /// <param name="sweepStopping">The sweep is cancelled or failed: nothing is retried.</param>
    public static TrialDecision Decide(AttemptStatus ended, int interruptedAttempts, int maxRetries, bool sweepStopping) => ended switch
    {
        AttemptStatus.Completed => TrialDecision.Complete,
        AttemptStatus.Diverged => TrialDecision.Diverge,
        AttemptStatus.Failed => TrialDecision.Fail,
        AttemptStatus.StoppedEarly => TrialDecision.StopEarly,
        AttemptStatus.Canceled => TrialDecision.Cancel,
        AttemptStatus.Interrupted when sweepStopping => TrialDecision.Cancel,
        AttemptStatus.Interrupted => interruptedAttempts <= maxRetries ? TrialDecision.Retry : TrialDecision.Fail,
        _ => throw new ArgumentOutOfRangeException(nameof(ended), ended, "the attempt has not ended"),
    };

    /// <summary>Whether a trial in this final state counts toward max_failed_trials.</summary>
    public static bool CountsAsFailure(TrialStatus status) => status is TrialStatus.Failed or TrialStatus.Diverged;
}
