using System.Globalization;
using Orchestrator.Shared.Sweeps;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>Early stopping, PBT and searcher resume through the real coordinator, with test workers running `sleep` trials.</summary>
public sealed class SearchIntegrationTests
{
    private static Proto.SweepSpec Spec(string search, string? stopping, int maxTrials, int parallel, double seconds, int reports) =>
        SweepSpecReader.FromYaml($"""
            sweep:
              name: search-test
              trial:
                kind: sleep
                sleep:
                  seconds: {seconds.ToString(CultureInfo.InvariantCulture)}
                  reports: {reports}
              parameters:
                - name: seed
                  type: int
                  min: 1
                  max: 100000
              objective:
                metric: objective
                goal: minimize
              search:
            {search}
            {(stopping is null ? "" : "  early_stopping:\n" + stopping)}
              budget:
                max_trials: {maxTrials}
                parallel_trials: {parallel}
            """).ToProto();

    private static async Task<Proto.Trial> TrialAsync(Proto.Jobs.JobsClient jobs, string sweepId, int number) =>
        await jobs.GetTrialAsync(new Proto.GetTrialRequest { SweepId = sweepId, TrialNumber = number });

    /// <summary>Stopped trials end stopped_early (one attempt, not failed, not retried) with their last value, and free their slots.</summary>
    private static async Task AssertStoppedEarlyAsync(Proto.Jobs.JobsClient jobs, Proto.Sweep sweep, TestWorker worker, int maxTrials)
    {
        Assert.Equal(Proto.SweepState.Completed, sweep.Summary.State);
        Assert.Equal(maxTrials, sweep.Trials.Count);
        var stopped = sweep.Trials.Where(t => t.State == Proto.TrialState.StoppedEarly).ToList();
        Assert.NotEmpty(stopped);
        Assert.All(sweep.Trials, t => Assert.True(t.State is Proto.TrialState.Completed or Proto.TrialState.StoppedEarly, $"trial {t.TrialNumber} is {t.State}"));
        foreach (var summary in stopped)
        {
            var trial = await TrialAsync(jobs, sweep.Summary.SweepId, summary.TrialNumber);
            var attempt = Assert.Single(trial.Attempts);
            Assert.Equal(Proto.AttemptState.StoppedEarly, attempt.State);
            // Its objective is the last value it reported before being stopped, and it stopped before its last report.
            Assert.True(summary.HasObjective);
            Assert.Equal(trial.History[^1].Metrics["objective"], summary.Objective);
            Assert.True(trial.History[^1].Step < summary.TotalSteps);
            var assign = Assert.Single(worker.Assignments, a => a.TrialNumber == summary.TrialNumber);
            Assert.Contains(worker.Cancels, c => c.AttemptId == assign.AttemptId);
        }
        // Every member reported its result (the cancelled ones as CANCELED), so every slot came back: with two slots
        // the sweep could only finish because stopped trials released theirs.
        Assert.Equal(worker.Assignments.Count, worker.Results.Count);
    }

    [Fact]
    public async Task Asha_stops_trials_of_a_sleep_sweep_and_they_end_stopped_early_with_their_slots_freed()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var worker = new TestWorker(host.Address, "asha-worker", slots: 2);
        await worker.StartAsync();
        var jobs = host.Jobs();
        var spec = Spec("    algorithm: random\n    seed: 5", "    algorithm: asha\n    min_resource: 1\n    max_resource: 9\n    reduction_factor: 3",
            maxTrials: 10, parallel: 2, seconds: 0.9, reports: 9);

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = spec });
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State != Proto.SweepState.Running, timeoutSeconds: 120);

        await AssertStoppedEarlyAsync(jobs, sweep, worker, maxTrials: 10);
    }

    [Fact]
    public async Task Median_rule_stops_trials_below_the_median_and_they_end_stopped_early_with_their_slots_freed()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var worker = new TestWorker(host.Address, "median-worker", slots: 2);
        await worker.StartAsync();
        var jobs = host.Jobs();
        var spec = Spec("    algorithm: random\n    seed: 11", "    algorithm: median\n    min_resource: 2\n    min_trials: 2",
            maxTrials: 10, parallel: 2, seconds: 0.9, reports: 9);

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = spec });
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State != Proto.SweepState.Running, timeoutSeconds: 120);

        await AssertStoppedEarlyAsync(jobs, sweep, worker, maxTrials: 10);
    }

    private const string Pbt = "    algorithm: pbt\n    seed: 4\n    population: 4\n    ready_interval: 3\n    quantile: 0.25\n    resample_probability: 0.25";

    /// <summary>
    /// Every exploit of every trial: the attempt after it resumed from the source's checkpoint (the bytes the test
    /// worker downloaded are the source trial's, at that step) and ran with the new parameters.
    /// </summary>
    private static async Task<List<Proto.Trial>> AssertLineageAsync(Proto.Jobs.JobsClient jobs, string sweepId, IReadOnlyList<TestWorker> workers)
    {
        var trials = new List<Proto.Trial>();
        for (var n = 0; n < 4; n++) trials.Add(await TrialAsync(jobs, sweepId, n));
        var assignments = workers.SelectMany(w => w.Assignments).ToList();
        foreach (var trial in trials)
        {
            var number = trial.Summary.TrialNumber;
            // Each exploit is followed by an attempt from the copied checkpoint (a retry before the trial checkpoints
            // again resumes from it too).
            var exploited = trial.Attempts.Where(a => a.HasResumedFromTrial).ToList();
            Assert.True(exploited.Count >= trial.Lineage.Count);
            var next = 0;
            for (var i = 0; i < trial.Lineage.Count; i++)
            {
                var entry = trial.Lineage[i];
                // The first attempt of this exploit whose download the worker finished (one assigned just before a
                // coordinator restart may have failed mid-download and been retried from the same checkpoint).
                var attempt = exploited.Skip(next).First(a => a.ResumedFromTrial == entry.SourceTrial && a.ResumedFrom == entry.SourceCheckpoint
                    && assignments.Any(s => s.TrialNumber == number && s.AttemptNumber == a.AttemptNumber && workers.Any(w => w.Resumed.ContainsKey(s.AttemptId))));
                next = exploited.IndexOf(attempt) + 1;
                Assert.NotEqual(number, entry.SourceTrial);
                Assert.Equal(entry.SourceTrial, attempt.ResumedFromTrial);
                Assert.Equal(entry.SourceCheckpoint, attempt.ResumedFrom);
                Assert.Equal($"checkpoint-{entry.SourceCheckpointStep:D9}.ckpt", entry.SourceCheckpoint);
                // Explore itself is covered by PbtControllerTests; here old and new may coincide legitimately (a member that
                // copies the same unchanged source twice with the same factor gets the same parameters again).
                Assert.NotEmpty(entry.NewParameters);
                // The source had uploaded that checkpoint: a member without one is never copied.
                var source = trials[entry.SourceTrial];
                Assert.Contains(source.Artifacts, a => a.Name == entry.SourceCheckpoint && a.Kind == "checkpoint");
                var assign = Assert.Single(assignments, a => a.TrialNumber == number && a.AttemptNumber == attempt.AttemptNumber);
                Assert.Equal(entry.SourceTrial, assign.ResumeTrialNumber);
                Assert.Equal(entry.NewParameters, assign.Parameters);
                var owner = workers.Single(w => w.Assignments.Contains(assign));
                Assert.Equal(TestWorker.CheckpointContent(entry.SourceTrial, (int)entry.SourceCheckpointStep),
                    System.Text.Encoding.UTF8.GetString(owner.Resumed[assign.AttemptId]));
            }
            if (trial.Lineage.Count > 0) Assert.Equal(trial.Lineage[^1].NewParameters, trial.Summary.Parameters);
        }
        return trials;
    }

    [Fact]
    public async Task Pbt_copies_the_source_members_checkpoint_with_perturbed_parameters_and_records_lineage()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var worker = new TestWorker(host.Address, "pbt-worker", slots: 4, uploadCheckpoints: true);
        await worker.StartAsync();
        var jobs = host.Jobs();

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Spec(Pbt, null, maxTrials: 4, parallel: 4, seconds: 2.4, reports: 12) });
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State != Proto.SweepState.Running, timeoutSeconds: 120);

        Assert.Equal(Proto.SweepState.Completed, sweep.Summary.State);
        Assert.All(sweep.Trials, t => Assert.Equal(Proto.TrialState.Completed, t.State));
        var trials = await AssertLineageAsync(jobs, submitted.SweepId, [worker]);
        Assert.Contains(trials, t => t.Lineage.Count > 0);
    }

    [Fact]
    public async Task Pbt_never_exploits_a_member_without_a_checkpoint()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var worker = new TestWorker(host.Address, "no-checkpoints", slots: 4, uploadCheckpoints: false);
        await worker.StartAsync();
        var jobs = host.Jobs();

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Spec(Pbt, null, maxTrials: 4, parallel: 4, seconds: 1.2, reports: 12) });
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State != Proto.SweepState.Running, timeoutSeconds: 120);

        Assert.Equal(Proto.SweepState.Completed, sweep.Summary.State);
        for (var n = 0; n < 4; n++)
        {
            var trial = await TrialAsync(jobs, submitted.SweepId, n);
            Assert.Empty(trial.Lineage);
            Assert.Single(trial.Attempts);
        }
        Assert.All(worker.Assignments, a => Assert.Equal("", a.ResumeArtifact));
    }

    [Fact]
    public async Task Pbt_after_a_coordinator_restart_keeps_its_lineage_and_resumes_with_the_perturbed_parameters()
    {
        var host = await CoordinatorHost.StartAsync();
        var directory = host.Directory;
        var port = host.GrpcPort;
        await using var worker = new TestWorker(host.Address, "pbt-steady", slots: 4, uploadCheckpoints: true);
        await worker.StartAsync();
        var submitted = await host.Jobs().SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Spec(Pbt, null, maxTrials: 4, parallel: 4, seconds: 6, reports: 24) });
        var before = new List<Proto.Trial>();
        await Sweeps.WaitUntilAsync(() =>
        {
            before.Clear();
            for (var n = 0; n < 4; n++) before.Add(TrialAsync(host.Jobs(), submitted.SweepId, n).GetAwaiter().GetResult());
            return before.Any(t => t.Lineage.Count > 0);
        }, "a pbt exploit", timeoutSeconds: 60);
        await host.StopAsync();

        await using var restarted = await CoordinatorHost.StartAsync(directory, port);
        var jobs = restarted.Jobs();
        Proto.Sweep sweep;
        try
        {
            sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State != Proto.SweepState.Running, timeoutSeconds: 120);
        }
        catch (TimeoutException e)
        {
            var dump = new System.Text.StringBuilder(e.Message);
            for (var n = 0; n < 4; n++)
            {
                var t = await TrialAsync(jobs, submitted.SweepId, n);
                dump.Append($"\ntrial {n} step {t.Summary.Step} lineage {t.Lineage.Count}: ");
                foreach (var a in t.Attempts) dump.Append($"[{a.AttemptNumber} {a.State} {a.Reason} from {a.ResumedFromTrial}/{a.ResumedFrom}] ");
            }
            dump.Append($"\nworker assignments {worker.Assignments.Count} results {worker.Results.Count} cancels {worker.Cancels.Count}");
            throw new TimeoutException(dump.ToString());
        }

        Assert.Equal(Proto.SweepState.Completed, sweep.Summary.State);
        Assert.True(worker.Welcomes >= 2, "the worker reconnected to the restarted coordinator");
        var after = await AssertLineageAsync(jobs, submitted.SweepId, [worker]);
        foreach (var old in before)
        {
            var now = after[old.Summary.TrialNumber];
            // The lineage recorded before the restart survived it, and every attempt since ran with the parameters
            // of the newest exploit (perturbed, not the trial's original ones).
            Assert.Equal(old.Lineage.Select(l => (l.Step, l.SourceTrial, l.SourceCheckpoint)), now.Lineage.Take(old.Lineage.Count).Select(l => (l.Step, l.SourceTrial, l.SourceCheckpoint)));
            if (old.Lineage.Count == 0) continue;
            var last = worker.Assignments.Where(a => a.TrialNumber == old.Summary.TrialNumber).MaxBy(a => a.AttemptNumber)!;
            Assert.Equal(now.Lineage[^1].NewParameters, last.Parameters);
            Assert.NotEqual(now.Lineage[0].OldParameters, last.Parameters);
        }
    }

    [Fact]
    public async Task Tpe_sweep_whose_coordinator_restarts_makes_the_same_suggestions_as_an_uninterrupted_one()
    {
        var spec = Spec("    algorithm: tpe\n    seed: 9\n    startup_trials: 3", null, maxTrials: 8, parallel: 1, seconds: 0.3, reports: 1);

        await using (var reference = await CoordinatorHost.StartAsync())
        {
            await using var worker = new TestWorker(reference.Address, "reference-worker");
            await worker.StartAsync();
            var done = await reference.Jobs().SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = spec });
            var uninterrupted = await Sweeps.WaitForAsync(reference.Jobs(), done.SweepId, s => s.Summary.State == Proto.SweepState.Completed, timeoutSeconds: 120);

            var host = await CoordinatorHost.StartAsync();
            var directory = host.Directory;
            var port = host.GrpcPort;
            await using var steady = new TestWorker(host.Address, "restart-worker");
            await steady.StartAsync();
            var submitted = await host.Jobs().SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = spec });
            // Past the start-up trials, so the restored searcher's model (not only its random stream) is exercised.
            await Sweeps.WaitForAsync(host.Jobs(), submitted.SweepId, s => s.Trials.Count(t => t.State == Proto.TrialState.Completed) >= 4, timeoutSeconds: 120);
            await host.StopAsync();
            await using var restarted = await CoordinatorHost.StartAsync(directory, port);
            var resumed = await Sweeps.WaitForAsync(restarted.Jobs(), submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed, timeoutSeconds: 120);

            Assert.Equal(uninterrupted.Trials.Select(t => t.Parameters["seed"]), resumed.Trials.Select(t => t.Parameters["seed"]));
            Assert.Equal(uninterrupted.Trials.Select(t => t.Objective), resumed.Trials.Select(t => t.Objective));
        }
    }
}
