namespace Orchestrator.Coordinator.Sweeps;

/// <summary>When a sweep creates trials and when it is over.</summary>
public static class SweepCompletion
{
    /// <summary>Whether another trial may be created now.</summary>
    public static bool CanCreate(int created, int active, int maxTrials, int parallelTrials, bool searchExhausted) =>
        !searchExhausted && created < maxTrials && active < parallelTrials;

    /// <summary>
    /// The sweep's final state, or null while it goes on: failed as soon as more than max_failed_trials trials
    /// failed; completed when nothing is active and the budget or the search space is used up.
    /// </summary>
    public static SweepStatus? Evaluate(int created, int active, int failed, int maxTrials, int? maxFailedTrials, bool searchExhausted)
    {
        if (maxFailedTrials is { } limit && failed > limit) return SweepStatus.Failed;
        if (active == 0 && (created >= maxTrials || searchExhausted)) return SweepStatus.Completed;
        return null;
    }

    /// <summary>The objective as a loss for the searcher (lower is better): a maximised metric is negated.</summary>
    public static double Loss(double objective, string goal) => goal == Shared.Sweeps.Goals.Maximize ? -objective : objective;

    /// <summary>Whether <paramref name="candidate"/> beats <paramref name="best"/> under <paramref name="goal"/>.</summary>
    public static bool IsBetter(double candidate, double? best, string goal) =>
        best is not { } b || Loss(candidate, goal) < Loss(b, goal);
}
