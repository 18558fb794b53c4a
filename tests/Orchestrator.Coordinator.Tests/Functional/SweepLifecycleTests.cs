using Grpc.Core;
using Orchestrator.Shared.Trials;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

public sealed class SweepLifecycleTests
{
    [Fact]
    public async Task Submitted_sweep_completes_with_every_trial_and_the_best_trial_while_watch_streams_it()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var a = new TestWorker(host.Address, "worker-a", slots: 2);
        await using var b = new TestWorker(host.Address, "worker-b", slots: 2);
        await a.StartAsync();
        await b.StartAsync();
        var jobs = host.Jobs();

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { RequestId = Guid.NewGuid().ToString(), Spec = Sweeps.Sleep(maxTrials: 6, parallel: 3) });
        Assert.True(submitted.Created);

        using var watch = jobs.WatchSweep(new Proto.WatchSweepRequest { SweepId = submitted.SweepId });
        var events = new List<Proto.SweepEvent>();
        await foreach (var e in watch.ResponseStream.ReadAllAsync()) events.Add(e);
        Assert.Equal(Proto.SweepEvent.EventOneofCase.Snapshot, events[0].EventCase);
        Assert.Equal(Proto.SweepEvent.EventOneofCase.Finished, events[^1].EventCase);
        Assert.Contains(events, e => e.EventCase == Proto.SweepEvent.EventOneofCase.Progress);
        Assert.Contains(events, e => e.TrialChanged?.Trial.State == Proto.TrialState.Completed);

        var sweep = await jobs.GetSweepAsync(new Proto.GetSweepRequest { SweepId = submitted.SweepId });
        Assert.Equal(Proto.SweepState.Completed, sweep.Summary.State);
        Assert.Equal(6, sweep.Trials.Count);
        Assert.All(sweep.Trials, t => Assert.Equal(Proto.TrialState.Completed, t.State));
        // Each objective is the sleep trial's seeded value, and the best is the smallest.
        Assert.All(sweep.Trials, t => Assert.Equal(BuiltinTrials.SleepObjective(int.Parse(t.Parameters["seed"], System.Globalization.CultureInfo.InvariantCulture)), t.Objective));
        var best = sweep.Trials.MinBy(t => t.Objective)!;
        Assert.Equal(best.TrialNumber, sweep.Summary.BestTrial);
        Assert.Equal(best.Objective, sweep.Summary.BestObjective);
        // No slot ever ran more members than the worker has.
        Assert.Equal(6, a.Results.Count + b.Results.Count);

        var trial = await jobs.GetTrialAsync(new Proto.GetTrialRequest { SweepId = submitted.SweepId, TrialNumber = best.TrialNumber });
        Assert.Single(trial.Attempts);
        Assert.Equal(3, trial.History.Count);
        var listed = await jobs.ListSweepsAsync(new Proto.ListSweepsRequest());
        Assert.Contains(listed.Sweeps, s => s.SweepId == submitted.SweepId && s.State == Proto.SweepState.Completed);
    }

    [Fact]
    public async Task Submit_is_idempotent_by_request_id_and_refuses_a_different_spec_under_the_same_id()
    {
        await using var host = await CoordinatorHost.StartAsync();
        var jobs = host.Jobs();
        var request = new Proto.SubmitSweepRequest { RequestId = "retry-me", Spec = Sweeps.Sleep(maxTrials: 2, parallel: 1) };

        var first = await jobs.SubmitSweepAsync(request);
        var again = await jobs.SubmitSweepAsync(request);

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal(first.SweepId, again.SweepId);
        Assert.Single((await jobs.ListSweepsAsync(new Proto.ListSweepsRequest())).Sweeps);
        var different = new Proto.SubmitSweepRequest { RequestId = "retry-me", Spec = Sweeps.Sleep(maxTrials: 3, parallel: 1) };
        await Sweeps.RejectsAsync(() => jobs.SubmitSweepAsync(different).ResponseAsync, StatusCode.AlreadyExists);
    }

    [Fact]
    public async Task Malformed_sweeps_are_rejected_naming_the_field_and_the_coordinator_keeps_serving()
    {
        await using var host = await CoordinatorHost.StartAsync(settings: new Dictionary<string, string?> { ["Orchestrator:Limits:MaxTrials"] = "50" });
        await using var worker = new TestWorker(host.Address, "only-worker");
        await worker.StartAsync();
        await Sweeps.WaitUntilAsync(() => worker.Welcomes > 0, "the worker's welcome");
        var jobs = host.Jobs();

        var tooMany = Sweeps.Sleep(maxTrials: 51, parallel: 1);
        var error = await Sweeps.RejectsAsync(() => jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = tooMany }).ResponseAsync, StatusCode.InvalidArgument);
        Assert.Contains("sweep.budget.max_trials", error.Status.Detail, StringComparison.Ordinal);

        var tooWide = Sweeps.Sleep(maxTrials: 2, parallel: 1, workers: 2);
        error = await Sweeps.RejectsAsync(() => jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = tooWide }).ResponseAsync, StatusCode.InvalidArgument);
        Assert.Contains("sweep.resources.workers", error.Status.Detail, StringComparison.Ordinal);

        var inverted = Sweeps.Sleep(maxTrials: 2, parallel: 1);
        inverted.Parameters[0].Min = 10;
        inverted.Parameters[0].Max = 1;
        error = await Sweeps.RejectsAsync(() => jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = inverted }).ResponseAsync, StatusCode.InvalidArgument);
        Assert.Contains("sweep.parameters[0].min", error.Status.Detail, StringComparison.Ordinal);

        var unknown = Sweeps.Sleep(maxTrials: 2, parallel: 1);
        unknown.Search.Algorithm = "simulated_annealing";
        error = await Sweeps.RejectsAsync(() => jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = unknown }).ResponseAsync, StatusCode.InvalidArgument);
        Assert.Contains("sweep.search.algorithm", error.Status.Detail, StringComparison.Ordinal);

        await Sweeps.RejectsAsync(() => jobs.GetSweepAsync(new Proto.GetSweepRequest { SweepId = "../x" }).ResponseAsync, StatusCode.InvalidArgument);
        await Sweeps.RejectsAsync(() => jobs.GetSweepAsync(new Proto.GetSweepRequest { SweepId = "sw-000000000000" }).ResponseAsync, StatusCode.NotFound);
        Assert.Empty((await jobs.ListSweepsAsync(new Proto.ListSweepsRequest())).Sweeps);
        var ok = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Sweeps.Sleep(maxTrials: 1, parallel: 1, seconds: 0.05, reports: 1) });
        await Sweeps.WaitForAsync(jobs, ok.SweepId, s => s.Summary.State == Proto.SweepState.Completed);
    }

    [Fact]
    public async Task Cancel_stops_running_trials_on_their_workers_and_drops_queued_ones()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var worker = new TestWorker(host.Address, "busy-worker");
        await worker.StartAsync();
        var jobs = host.Jobs();
        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Sweeps.Sleep(maxTrials: 3, parallel: 2, seconds: 60, reports: 2) });
        await Sweeps.WaitUntilAsync(() => !worker.Assignments.IsEmpty, "an assignment");

        var cancelled = await jobs.CancelSweepAsync(new Proto.CancelSweepRequest { SweepId = submitted.SweepId, Reason = "enough" });

        Assert.Equal(Proto.SweepState.Canceled, cancelled.State);
        await Sweeps.WaitUntilAsync(() => worker.Results.Values.Any(r => r.Status == Proto.ResultStatus.Canceled), "the cancelled result");
        var cancel = Assert.Single(worker.Cancels);
        Assert.Equal(worker.Assignments.Single().AttemptId, cancel.AttemptId);
        var sweep = await jobs.GetSweepAsync(new Proto.GetSweepRequest { SweepId = submitted.SweepId });
        Assert.Equal("enough", sweep.Reason);
        Assert.Equal(2, sweep.Trials.Count);
        Assert.All(sweep.Trials, t => Assert.Equal(Proto.TrialState.Canceled, t.State));
        // Cancelling again is harmless.
        Assert.Equal(Proto.SweepState.Canceled, (await jobs.CancelSweepAsync(new Proto.CancelSweepRequest { SweepId = submitted.SweepId })).State);
    }

    [Fact]
    public async Task A_two_worker_trial_gets_a_gang_with_ranks_world_size_and_peer_endpoints()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var a = new TestWorker(host.Address, "gang-a");
        await using var b = new TestWorker(host.Address, "gang-b");
        await a.StartAsync();
        await b.StartAsync();
        await Sweeps.WaitUntilAsync(() => a.Welcomes > 0 && b.Welcomes > 0, "both welcomes");
        var jobs = host.Jobs();

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Sweeps.Sleep(maxTrials: 2, parallel: 2, seconds: 0.2, reports: 2, workers: 2) });
        var sweep = await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);

        Assert.All(sweep.Trials, t => Assert.Equal(Proto.TrialState.Completed, t.State));
        var members = a.Assignments.Concat(b.Assignments).GroupBy(m => m.GroupId).ToList();
        Assert.Equal(2, members.Count);
        foreach (var gang in members)
        {
            Assert.Equal([0, 1], gang.Select(m => m.Rank).Order());
            Assert.All(gang, m => Assert.Equal(2, m.WorldSize));
            Assert.All(gang, m => Assert.Equal(gang.First().PeerEndpoints, m.PeerEndpoints));
            var rank0 = gang.Single(m => m.Rank == 0);
            Assert.Equal(a.Assignments.Contains(rank0) ? a.Endpoint : b.Endpoint, rank0.PeerEndpoints[0]);
            Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", rank0.Traceparent);
        }
    }
}
