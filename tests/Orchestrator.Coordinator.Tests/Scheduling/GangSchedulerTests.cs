using Orchestrator.Coordinator.Scheduling;

namespace Orchestrator.Coordinator.Tests.Scheduling;

public sealed class GangSchedulerTests
{
    private static GangRequest Request(int trial, int workers, int devices = 1, string sweep = "sw-000000000001") =>
        new() { SweepId = sweep, TrialNumber = trial, AttemptNumber = 1, Workers = workers, Devices = devices };

    [Fact]
    public void Two_two_worker_trials_and_three_free_slots_run_one_and_the_other_waits_without_holding_slots()
    {
        var scheduler = new GangScheduler(maxBackfill: 8);
        scheduler.UpsertWorker("a", slots: 1, devices: 1, available: true);
        scheduler.UpsertWorker("b", slots: 1, devices: 1, available: true);
        scheduler.UpsertWorker("c", slots: 1, devices: 1, available: true);
        scheduler.Enqueue(Request(0, workers: 2));
        scheduler.Enqueue(Request(1, workers: 2));

        var placed = scheduler.Schedule();

        var only = Assert.Single(placed);
        Assert.Equal(0, only.Request.TrialNumber);
        Assert.Equal(2, only.Workers.Distinct().Count());
        // The waiting gang holds nothing: exactly one slot is free, on the worker the first gang did not take.
        var free = new[] { "a", "b", "c" }.Where(w => scheduler.FreeSlots(w) == 1).ToList();
        Assert.Single(free);
        Assert.DoesNotContain(free[0], only.Workers);
        Assert.Equal(1, scheduler.QueueLength);

        // When the first gang ends, the second starts on two distinct workers.
        scheduler.Release(only.Request.MemberId(0));
        scheduler.Release(only.Request.MemberId(1));
        var next = Assert.Single(scheduler.Schedule());
        Assert.Equal(1, next.Request.TrialNumber);
        Assert.Equal(2, next.Workers.Distinct().Count());
    }

    [Fact]
    public void A_gang_never_takes_two_slots_of_one_worker()
    {
        var scheduler = new GangScheduler(maxBackfill: 8);
        scheduler.UpsertWorker("big", slots: 8, devices: 1, available: true);
        scheduler.Enqueue(Request(0, workers: 2));

        Assert.Empty(scheduler.Schedule());
        Assert.Equal(8, scheduler.FreeSlots("big"));

        scheduler.UpsertWorker("small", slots: 1, devices: 1, available: true);
        var placement = Assert.Single(scheduler.Schedule());
        Assert.Equal(["big", "small"], placement.Workers.Order());
    }

    [Fact]
    public void Workers_without_enough_devices_are_not_used()
    {
        var scheduler = new GangScheduler(maxBackfill: 8);
        scheduler.UpsertWorker("cpu", slots: 4, devices: 1, available: true);
        scheduler.UpsertWorker("gpu", slots: 1, devices: 4, available: true);
        scheduler.Enqueue(Request(0, workers: 1, devices: 2));

        Assert.Equal(["gpu"], Assert.Single(scheduler.Schedule()).Workers);
        Assert.Equal(1, scheduler.ClusterSize(devices: 2));
        Assert.Equal(2, scheduler.ClusterSize(devices: 1));
    }

    [Fact]
    public void Backfill_lets_small_trials_pass_a_waiting_gang_only_a_bounded_number_of_times()
    {
        var scheduler = new GangScheduler(maxBackfill: 2);
        scheduler.UpsertWorker("a", slots: 1, devices: 1, available: true);
        scheduler.UpsertWorker("b", slots: 1, devices: 1, available: true);
        scheduler.Enqueue(Request(0, workers: 1));
        Assert.Single(scheduler.Schedule());

        // The gang at the head cannot start (a is busy); singles behind it may use b, twice.
        scheduler.Enqueue(Request(1, workers: 2));
        for (var trial = 2; trial < 6; trial++) scheduler.Enqueue(Request(trial, workers: 1));
        var started = new List<int>();
        for (var round = 0; round < 4; round++)
        {
            foreach (var p in scheduler.Schedule())
            {
                started.Add(p.Request.TrialNumber);
                // Singles finish at once, freeing b again.
                if (p.Request.TrialNumber != 1) scheduler.Release(p.Request.MemberId(0));
            }
        }
        Assert.Equal([2, 3], started);

        // From now on b waits for the gang; once a frees, the gang starts before the remaining singles.
        scheduler.Release(Request(0, workers: 1).MemberId(0));
        var next = scheduler.Schedule();
        Assert.Equal(1, next[0].Request.TrialNumber);
    }

    [Fact]
    public void A_gang_larger_than_the_cluster_does_not_block_the_queue()
    {
        var scheduler = new GangScheduler(maxBackfill: 0);
        scheduler.UpsertWorker("a", slots: 2, devices: 1, available: true);
        scheduler.Enqueue(Request(0, workers: 3));
        scheduler.Enqueue(Request(1, workers: 1));

        Assert.Equal(1, Assert.Single(scheduler.Schedule()).Request.TrialNumber);
        Assert.Equal(1, scheduler.QueueLength);
    }

    [Fact]
    public void Unavailable_workers_keep_their_slots_and_get_nothing_new_and_removed_workers_free_them()
    {
        var scheduler = new GangScheduler(maxBackfill: 8);
        scheduler.UpsertWorker("a", slots: 2, devices: 1, available: true);
        scheduler.Enqueue(Request(0, workers: 1));
        Assert.Single(scheduler.Schedule());
        scheduler.SetAvailable("a", false);
        scheduler.Enqueue(Request(1, workers: 1));

        Assert.Empty(scheduler.Schedule());
        Assert.Equal([Request(0, workers: 1).MemberId(0)], scheduler.RemoveWorker("a"));
        Assert.False(scheduler.Release(Request(0, workers: 1).MemberId(0)));
    }

    [Fact]
    public void Requests_are_idempotent_per_trial_and_can_be_withdrawn()
    {
        var scheduler = new GangScheduler(maxBackfill: 8);
        Assert.True(scheduler.Enqueue(Request(0, workers: 1)));
        Assert.False(scheduler.Enqueue(Request(0, workers: 1)));
        Assert.True(scheduler.Withdraw(Request(0, workers: 1).Key));
        Assert.Equal(0, scheduler.QueueLength);
    }

    [Fact]
    public void Members_side_by_side_on_a_worker_get_distinct_slots_and_a_freed_slot_is_reused()
    {
        var scheduler = new GangScheduler(maxBackfill: 8);
        scheduler.UpsertWorker("a", slots: 3, devices: 1, available: true);
        // A re-attached member reports the slot it runs in; new members must not get that slot's port.
        Assert.Equal(1, scheduler.Occupy("a", "sw-000000000001/t9/a1/r0", slot: 1));
        scheduler.Enqueue(Request(0, workers: 1));
        scheduler.Enqueue(Request(1, workers: 1));

        var placed = scheduler.Schedule();

        Assert.Equal([0, 2], placed.Select(p => p.Slots[0]).Order());
        scheduler.Release(placed.Single(p => p.Slots[0] == 0).Request.MemberId(0));
        scheduler.Enqueue(Request(2, workers: 1));
        Assert.Equal(0, Assert.Single(scheduler.Schedule()).Slots[0]);
        Assert.Equal(1, scheduler.SlotOf("sw-000000000001/t9/a1/r0"));
    }

    [Theory]
    [InlineData("10.0.0.5:29500", 0, "10.0.0.5:29500")]
    [InlineData("10.0.0.5:29500", 3, "10.0.0.5:29503")]
    [InlineData("worker-1.workers.orchestrator.svc:29500", 1, "worker-1.workers.orchestrator.svc:29501")]
    public void A_slot_listens_on_the_workers_port_plus_its_index(string endpoint, int slot, string expected)
    {
        Assert.Equal(expected, Orchestrator.Coordinator.Grains.SchedulerGrain.SlotEndpoint(endpoint, slot));
    }
}
