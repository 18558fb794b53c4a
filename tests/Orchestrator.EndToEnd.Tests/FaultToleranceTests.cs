using System.Diagnostics;
using Grpc.Core;
using Orchestrator.Shared.Protos;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>Coordinator and workers as processes, killed with SIGKILL mid-sweep.</summary>
public sealed class FaultToleranceTests
{
    private const string GanSweep = """
        sweep:
          name: e2e-gan
          trial:
            kind: gan
            seed: 2
            data: { dataset: ring8, batch_size: 64, mixture_size: 4096 }
            model: { architecture: mlp, hidden: 64, layers: 2 }
            latent: { dim: 4 }
            training: { steps: 4000, log_every: 20, eval_every: 4000, checkpoint_every: 200, threads: 1 }
            evaluation: { samples: 500 }
          parameters:
            - { name: optimizer.generator.lr, type: categorical, values: ["0.0002"] }
          objective: { metric: modes_covered, goal: maximize }
          search: { algorithm: grid }
          budget: { max_trials: 1, parallel_trials: 1 }
        """;

    private static string SleepSweep(int trials, double seconds, int parallel) => $$"""
        sweep:
          name: e2e-sleep
          trial:
            kind: sleep
            sleep: { seconds: {{seconds}}, reports: 2 }
          parameters:
            - { name: seed, type: int, min: 1, max: {{trials}}, grid_points: {{trials}} }
          objective: { metric: objective, goal: minimize }
          search: { algorithm: grid }
          budget: { max_trials: {{trials}}, parallel_trials: {{parallel}} }
        """;

    private static int StepOf(string checkpoint) => int.Parse(checkpoint["checkpoint-".Length..^".ckpt".Length]);

    [Fact]
    public async Task Worker_killed_mid_trial_the_trial_resumes_from_its_last_checkpoint_on_another_worker()
    {
        await using var cluster = new LocalCluster();
        cluster.StartCoordinator();
        // Pinned (each worker's one slot to all its cores): the trial runs and resumes the same through --pin-cores.
        var workers = new[] { cluster.StartWorker("w1", pinCores: true), cluster.StartWorker("w2", pinCores: true) };
        await cluster.WaitForCoordinatorAsync();
        var sweepId = await cluster.SubmitAsync(GanSweep);

        // Wait until the trial has trained past two checkpoints, both uploaded.
        Trial trial = null!;
        await cluster.WaitForAsync(sweepId, s => s.Trials.Count == 1 && s.Trials[0].Step >= 500);
        var until = DateTime.UtcNow + LocalCluster.HangGuard;
        while (DateTime.UtcNow < until)
        {
            trial = await cluster.Jobs.GetTrialAsync(new GetTrialRequest { SweepId = sweepId, TrialNumber = 0 });
            if (trial.Artifacts.Count(a => a.Kind == "checkpoint") >= 2) break;
            await Task.Delay(200);
        }
        var first = Assert.Single(trial.Attempts);
        var victim = workers.Single(w => w.Name == $"worker:{first.Workers.Single()}");
        var newestBefore = trial.Artifacts.Where(a => a.Kind == "checkpoint").Max(a => a.Step);
        long stepAtKill = (await cluster.Jobs.GetSweepAsync(new GetSweepRequest { SweepId = sweepId })).Trials[0].Step;
        victim.Kill();

        var done = await cluster.WaitForAsync(sweepId, s => s.Summary.State != SweepState.Running);
        Assert.True(done.Summary.State == SweepState.Completed, $"{done}\n{cluster.Logs()}");
        trial = await cluster.Jobs.GetTrialAsync(new GetTrialRequest { SweepId = sweepId, TrialNumber = 0 });
        Assert.Equal(TrialState.Completed, trial.Summary.State);
        Assert.Equal(2, trial.Attempts.Count);
        Assert.Equal(AttemptState.Interrupted, trial.Attempts[0].State);
        var survivor = workers.Single(w => w != victim).Name["worker:".Length..];
        Assert.Equal(survivor, trial.Attempts[1].Workers.Single());
        // Resumed from the newest checkpoint uploaded before the kill (or a later one): at most one checkpoint
        // interval (200 steps) plus the progress lag (one log interval, 20) redone.
        int resumedAt = StepOf(trial.Attempts[1].ResumedFrom);
        Assert.True(resumedAt >= newestBefore, $"resumed from {trial.Attempts[1].ResumedFrom}, newest before the kill was step {newestBefore}");
        Assert.True(stepAtKill - resumedAt <= 200 + 20, $"{stepAtKill - resumedAt} steps redone");
        Assert.Equal(4000, trial.Summary.Step);
    }

    [Fact]
    public async Task Coordinator_killed_mid_sweep_restarts_finishes_the_sweep_and_reruns_no_completed_trial()
    {
        await using var cluster = new LocalCluster();
        var coordinator = cluster.StartCoordinator();
        cluster.StartWorker("w1");
        cluster.StartWorker("w2");
        await cluster.WaitForCoordinatorAsync();
        var sweepId = await cluster.SubmitAsync(SleepSweep(trials: 12, seconds: 1, parallel: 2));

        var before = await cluster.WaitForAsync(sweepId, s => s.Trials.Count(t => t.State == TrialState.Completed) >= 4);
        coordinator.Kill();
        var completedBefore = before.Trials.Where(t => t.State == TrialState.Completed).ToDictionary(t => t.TrialNumber, t => t.Objective);

        // Same database, same port: the workers find it again on their own.
        cluster.StartCoordinator();
        var done = await cluster.WaitForAsync(sweepId, s => s.Summary.State != SweepState.Running);

        Assert.True(done.Summary.State == SweepState.Completed, $"{done}\n{cluster.Logs()}");
        Assert.Equal(12, done.Trials.Count);
        Assert.All(done.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        foreach (var (number, objective) in completedBefore)
        {
            var trial = done.Trials.Single(t => t.TrialNumber == number);
            Assert.Equal(1, trial.Attempts);
            Assert.Equal(objective, trial.Objective);
        }
    }

    [Fact]
    public async Task Cancel_stops_running_trials_on_real_workers_within_seconds()
    {
        await using var cluster = new LocalCluster();
        cluster.StartCoordinator();
        var w1 = cluster.StartWorker("w1");
        var w2 = cluster.StartWorker("w2");
        await cluster.WaitForCoordinatorAsync();
        var sweepId = await cluster.SubmitAsync(SleepSweep(trials: 4, seconds: 600, parallel: 2));
        await cluster.WaitForAsync(sweepId, s => s.Trials.Count(t => t.State == TrialState.Running) == 2);

        var clock = Stopwatch.StartNew();
        await cluster.Jobs.CancelSweepAsync(new CancelSweepRequest { SweepId = sweepId, Reason = "e2e cancel" });
        var done = await cluster.WaitForAsync(sweepId, s => s.Summary.State == SweepState.Canceled && s.Trials.All(t => t.State != TrialState.Running),
            limit: TimeSpan.FromSeconds(60));

        Assert.All(done.Trials, t => Assert.NotEqual(TrialState.Completed, t.State));
        // The workers ran the cancel (not a lease timeout): they log each attempt canceled by the coordinator. The
        // sweep shows canceled as soon as the coordinator has decided, so wait for the workers' side.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(w1.Output + w2.Output).Contains("canceled by the coordinator", StringComparison.Ordinal) && DateTime.UtcNow < until)
            await Task.Delay(100);
        Assert.Contains("canceled by the coordinator", w1.Output + w2.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Tokens_on_a_worker_with_the_wrong_join_token_is_refused_and_calls_without_the_api_token_are_unauthenticated()
    {
        await using var cluster = new LocalCluster();
        var tokens = new Dictionary<string, string> { ["ORCHESTRATOR_API_TOKEN"] = "api-secret", ["ORCHESTRATOR_JOIN_TOKEN"] = "join-secret" };
        cluster.StartCoordinator(extra: ["--Orchestrator:Auth:ApiToken=api-secret", "--Orchestrator:Auth:JoinToken=join-secret"]);
        var authorized = new Metadata { { "authorization", "Bearer api-secret" } };
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            try
            {
                await cluster.Jobs.ListSweepsAsync(new ListSweepsRequest(), authorized, DateTime.UtcNow.AddSeconds(5));
                break;
            }
            catch (RpcException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(250);
            }
        }

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await cluster.Jobs.ListSweepsAsync(new ListSweepsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        var intruder = cluster.StartWorker("intruder", environment: new Dictionary<string, string> { ["ORCHESTRATOR_JOIN_TOKEN"] = "guess" });
        Assert.True(intruder.Process.WaitForExit(TimeSpan.FromMinutes(1)), intruder.Output);
        intruder.Process.WaitForExit(); // drains the redirected output the timed wait may leave behind
        Assert.Equal(1, intruder.Process.ExitCode);
        Assert.Contains("refused this worker", intruder.Output);

        var member = cluster.StartWorker("member", environment: tokens);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(member.Process.HasExited, member.Output);
    }
}
