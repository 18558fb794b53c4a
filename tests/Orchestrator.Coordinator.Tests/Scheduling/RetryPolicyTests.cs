using Orchestrator.Coordinator.Scheduling;
using Orchestrator.Coordinator.Sweeps;

namespace Orchestrator.Coordinator.Tests.Scheduling;

public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData(1, 3, TrialDecision.Retry)]
    [InlineData(3, 3, TrialDecision.Retry)]
    [InlineData(4, 3, TrialDecision.Fail)]
    [InlineData(1, 0, TrialDecision.Fail)]
    public void Interrupted_attempts_are_retried_up_to_max_retries(int interrupted, int maxRetries, TrialDecision expected) =>
        Assert.Equal(expected, RetryPolicy.Decide(AttemptStatus.Interrupted, interrupted, maxRetries, sweepStopping: false));

    [Theory]
    [InlineData(AttemptStatus.Diverged, TrialDecision.Diverge)]
    [InlineData(AttemptStatus.Failed, TrialDecision.Fail)]
    [InlineData(AttemptStatus.Completed, TrialDecision.Complete)]
    [InlineData(AttemptStatus.StoppedEarly, TrialDecision.StopEarly)]
    public void Trial_own_outcomes_are_never_retried(AttemptStatus status, TrialDecision expected) =>
        Assert.Equal(expected, RetryPolicy.Decide(status, interruptedAttempts: 0, maxRetries: 3, sweepStopping: false));

    [Fact]
    public void Nothing_is_retried_while_the_sweep_stops() =>
        Assert.Equal(TrialDecision.Cancel, RetryPolicy.Decide(AttemptStatus.Interrupted, 1, 3, sweepStopping: true));

    [Fact]
    public void Diverged_and_failed_trials_count_toward_max_failed_trials()
    {
        Assert.True(RetryPolicy.CountsAsFailure(TrialStatus.Diverged));
        Assert.True(RetryPolicy.CountsAsFailure(TrialStatus.Failed));
        Assert.False(RetryPolicy.CountsAsFailure(TrialStatus.Canceled));
    }

    [Fact]
    public void A_sweep_completes_when_the_budget_is_used_and_nothing_runs_and_fails_past_max_failed_trials()
    {
        Assert.Null(SweepCompletion.Evaluate(created: 4, active: 1, failed: 0, maxTrials: 4, maxFailedTrials: null, searchExhausted: false));
        Assert.Equal(SweepStatus.Completed, SweepCompletion.Evaluate(4, 0, 0, 4, null, false));
        Assert.Equal(SweepStatus.Completed, SweepCompletion.Evaluate(2, 0, 0, 4, null, searchExhausted: true));
        Assert.Equal(SweepStatus.Failed, SweepCompletion.Evaluate(3, 1, 2, 10, maxFailedTrials: 1, false));
        Assert.Null(SweepCompletion.Evaluate(3, 1, 1, 10, maxFailedTrials: 1, false));
        Assert.False(SweepCompletion.CanCreate(created: 2, active: 2, maxTrials: 10, parallelTrials: 2, searchExhausted: false));
        Assert.True(SweepCompletion.IsBetter(-1, best: 0, Shared.Sweeps.Goals.Minimize));
        Assert.True(SweepCompletion.IsBetter(1, best: 0, Shared.Sweeps.Goals.Maximize));
    }

    [Fact]
    public void Member_ids_round_trip_and_reject_foreign_text()
    {
        var id = MemberIds.Format("sw-0123456789ab", 7, 2, 1);
        Assert.True(MemberIds.TryParse(id, out var parsed));
        Assert.Equal(new MemberId("sw-0123456789ab", 7, 2, 1), parsed);
        Assert.False(MemberIds.TryParse("../../etc:1:1:1", out _));
        Assert.Throws<ArgumentException>(() => MemberIds.Parse("nope"));
    }
}
