using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

public sealed class FaultToleranceTests
{
    [Fact]
    public async Task Worker_loss_requeues_trial_on_another_worker_from_its_last_checkpoint()
    {
        await using var host = await CoordinatorHost.StartAsync();
        var jobs = host.Jobs();
        await using var first = new TestWorker(host.Address, "doomed", uploadCheckpoints: true);
        await first.StartAsync();
        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Sweeps.Sleep(maxTrials: 1, parallel: 1, seconds: 4, reports: 8) });
        Proto.Trial trial;
        do
        {
            trial = await jobs.GetTrialAsync(new Proto.GetTrialRequest { SweepId = submitted.SweepId, TrialNumber = 0 });
            await Task.Delay(50);
        }
        while (trial.ResumeCheckpoint.Length == 0);

        await using var second = new TestWorker(host.Address, "survivor");
        await second.StartAsync();
        first.Kill();
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);

        Assert.Equal(Proto.TrialState.Completed, sweep.Trials.Single().State);
        trial = await jobs.GetTrialAsync(new Proto.GetTrialRequest { SweepId = submitted.SweepId, TrialNumber = 0 });
        Assert.Equal(2, trial.Attempts.Count);
        Assert.Equal(Proto.AttemptState.Interrupted, trial.Attempts[0].State);
        Assert.Equal(["doomed"], trial.Attempts[0].Workers);
        Assert.Contains("lease", trial.Attempts[0].Reason, StringComparison.Ordinal);
        Assert.Equal(["survivor"], trial.Attempts[1].Workers);
        Assert.StartsWith("checkpoint-", trial.Attempts[1].ResumedFrom, StringComparison.Ordinal);
        var resumedAssign = Assert.Single(second.Assignments);
        Assert.Equal(trial.Attempts[1].ResumedFrom, resumedAssign.ResumeArtifact);
        // It resumed from the newest checkpoint the lost attempt uploaded (one per report), so at most the steps
        // since that checkpoint were redone; the bytes it downloaded are that checkpoint's.
        var newest = trial.Artifacts.Where(a => a.Kind == "checkpoint").MaxBy(a => a.Step)!;
        Assert.Equal(newest.Name, resumedAssign.ResumeArtifact);
        var resumedStep = TestWorker.CheckpointStep(second.Resumed[resumedAssign.AttemptId]);
        Assert.Equal(newest.Step, resumedStep);
    }

    [Fact]
    public async Task Coordinator_restart_resumes_the_sweep_and_does_not_rerun_completed_trials()
    {
        var host = await CoordinatorHost.StartAsync();
        var directory = host.Directory;
        var port = host.GrpcPort;
        await using var worker = new TestWorker(host.Address, "steady");
        await worker.StartAsync();
        var submitted = await host.Jobs().SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Sweeps.Sleep(maxTrials: 5, parallel: 1, seconds: 0.6, reports: 2) });
        var before = await Sweeps.WaitForAsync(host.Jobs(), submitted.SweepId, s => s.Trials.Count(t => t.State == Proto.TrialState.Completed) >= 2);
        var completedBefore = before.Trials.Where(t => t.State == Proto.TrialState.Completed).Select(t => t.TrialNumber).ToList();
        await host.StopAsync();

        await using var restarted = await CoordinatorHost.StartAsync(directory, port);
        var jobs = restarted.Jobs();
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);

        Assert.Equal(5, sweep.Trials.Count);
        Assert.All(sweep.Trials, t => Assert.Equal(Proto.TrialState.Completed, t.State));
        Assert.True(worker.Welcomes >= 2, "the worker reconnected on its own");
        foreach (var number in completedBefore)
        {
            Assert.Single(worker.Assignments, a => a.TrialNumber == number);
            Assert.Equal(1, sweep.Trials[number].Attempts);
        }
        Assert.Equal(sweep.Trials.Select(t => t.Parameters["seed"]).Distinct().Count(), sweep.Trials.Count);
    }
}
