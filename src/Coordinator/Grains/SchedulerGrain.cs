using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Coordinator.Scheduling;
using Orchestrator.Coordinator.Telemetry;

namespace Orchestrator.Coordinator.Grains;

/// <summary>
/// The cluster's one scheduler: keeps the <see cref="GangScheduler"/> and turns its placements into attempts (asking the
/// sweep) and assignments (through the workers' grains).
/// </summary>
/// <remarks>
/// Volatile: after a restart it is rebuilt from what sweeps re-queue and what workers report in their hellos.
/// Kept alive because that state would otherwise be lost on idle deactivation.
/// </remarks>
[KeepAlive]
public sealed partial class SchedulerGrain(IOptions<CoordinatorOptions> options, ILogger<SchedulerGrain> logger) : Grain, ISchedulerGrain
{
    private readonly GangScheduler _scheduler = new(options.Value.Workers.MaxBackfill);
    private readonly Dictionary<string, string> _endpoints = new(StringComparer.Ordinal);
    // When each queued request arrived (Stopwatch timestamps), for the dispatch latency histogram.
    private readonly Dictionary<string, long> _enqueuedAt = new(StringComparer.Ordinal);
    private CoordinatorTelemetry? _telemetry;

    private CoordinatorTelemetry? Telemetry => _telemetry ??= ServiceProvider.GetService<CoordinatorTelemetry>();

    public Task WorkerUpAsync(WorkerRegistration registration, ImmutableArray<string> occupiedBy, ImmutableDictionary<string, int> slots)
    {
        _scheduler.UpsertWorker(registration.WorkerId, registration.Slots, registration.Devices, available: true);
        _endpoints[registration.WorkerId] = registration.Endpoint;
        foreach (var member in occupiedBy) _scheduler.Occupy(registration.WorkerId, member, slots.TryGetValue(member, out var slot) ? slot : null);
        return DispatchAsync();
    }

    public Task WorkerUnavailableAsync(string workerId)
    {
        _scheduler.SetAvailable(workerId, false);
        Publish();
        return Task.CompletedTask;
    }

    public Task WorkerDownAsync(string workerId)
    {
        _scheduler.RemoveWorker(workerId);
        _endpoints.Remove(workerId);
        return DispatchAsync();
    }

    public Task EnqueueAsync(GangRequest request)
    {
        if (_scheduler.Enqueue(request)) _enqueuedAt[request.Key] = System.Diagnostics.Stopwatch.GetTimestamp();
        return DispatchAsync();
    }

    public Task WithdrawAsync(string sweepId, int trialNumber)
    {
        _scheduler.Withdraw($"{sweepId}:{trialNumber}");
        _enqueuedAt.Remove($"{sweepId}:{trialNumber}");
        Publish();
        return Task.CompletedTask;
    }

    public Task ReleaseAsync(string memberId)
    {
        if (_scheduler.Release(memberId)) return DispatchAsync();
        Publish();
        return Task.CompletedTask;
    }

    public Task<int> ClusterSizeAsync(int devices) => Task.FromResult(_scheduler.ClusterSize(devices));

    private async Task DispatchAsync()
    {
        // Placements whose attempt could not start free their slots, which may let others start: loop until quiet.
        for (var placements = _scheduler.Schedule(); placements.Count > 0; placements = _scheduler.Schedule())
        {
            foreach (var placement in placements)
                await StartAsync(placement);
        }
        Publish();
    }

    private void Publish()
    {
        if (Telemetry is not { } telemetry) return;
        var (free, busy, workers) = _scheduler.Capacity();
        telemetry.SetScheduler(_scheduler.QueueLength, free, busy, workers);
    }

    private async Task StartAsync(Placement placement)
    {
        var request = placement.Request;
        var workers = placement.Workers.ToImmutableArray();
        // Slot i of a worker listens on its endpoint's port plus i (workers.proto), so members side by side on one
        // worker never share a port.
        var endpoints = workers.Select((w, rank) => SlotEndpoint(_endpoints.GetValueOrDefault(w, ""), placement.Slots[rank])).ToImmutableArray();
        ImmutableArray<Assignment> assignments;
        try
        {
            assignments = await GrainFactory.GetGrain<ISweepGrain>(request.SweepId)
                .StartAttemptAsync(request.TrialNumber, request.AttemptNumber, workers, endpoints);
        }
        catch (Exception e)
        {
            LogStartFailed(logger, e, request.Key);
            assignments = [];
        }
        var enqueued = _enqueuedAt.Remove(request.Key, out var since);
        if (assignments.IsEmpty)
        {
            for (var rank = 0; rank < workers.Length; rank++) _scheduler.Release(request.MemberId(rank));
            return;
        }
        foreach (var assigned in assignments)
        {
            var assignment = assigned with { Slot = placement.Slots[assigned.Rank] };
            bool delivered;
            try
            {
                delivered = await GrainFactory.GetGrain<IWorkerGrain>(assignment.WorkerId).AssignAsync(assignment);
            }
            catch (Exception e)
            {
                LogStartFailed(logger, e, request.Key);
                delivered = false;
            }
            if (delivered)
            {
                if (enqueued && assigned.Rank == 0) Telemetry?.RecordDispatch(System.Diagnostics.Stopwatch.GetElapsedTime(since));
                continue;
            }
            _scheduler.Release(assignment.MemberId);
            await GrainFactory.GetGrain<ISweepGrain>(request.SweepId)
                .MemberLostAsync(assignment.MemberId, $"worker {assignment.WorkerId} was not connected when the attempt was assigned");
        }
    }

    /// <summary>host:port of a worker's slot: its slot 0 endpoint with the port moved up by the slot index.</summary>
    internal static string SlotEndpoint(string endpoint, int slot)
    {
        int colon = endpoint.LastIndexOf(':');
        if (slot <= 0 || colon < 0 || !int.TryParse(endpoint.AsSpan(colon + 1), out var port)) return endpoint;
        return $"{endpoint[..colon]}:{port + slot}";
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Could not start trial {Key}")]
    private static partial void LogStartFailed(ILogger logger, Exception exception, string key);
}
