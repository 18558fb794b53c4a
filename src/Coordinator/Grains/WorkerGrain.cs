using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Coordinator.Scheduling;

namespace Orchestrator.Coordinator.Grains;

/// <summary>
/// One worker: its registration, lease and the members it runs. The worker's gRPC stream lives in the handler that
/// subscribed <see cref="IWorkerObserver"/>; assignments and cancels reach it through that observer.
/// </summary>
/// <remarks>
/// Volatile on purpose: what a worker runs is the worker's to say, in its hello, so after a restart the grain is
/// rebuilt from the reconnecting worker. Kept alive because its lease timer must run while the worker is silent.
/// </remarks>
[KeepAlive]
public sealed partial class WorkerGrain(IOptions<CoordinatorOptions> options, ILogger<WorkerGrain> logger) : Grain, IWorkerGrain
{
    private readonly Lease _lease = new(TimeSpan.FromSeconds(options.Value.Workers.LeaseSeconds));
    private readonly HashSet<string> _members = new(StringComparer.Ordinal);
    private IWorkerObserver? _observer;
    private Guid _connection;
    private bool _registered;
    private IGrainTimer? _leaseTimer;

    private ISchedulerGrain Scheduler => GrainFactory.GetGrain<ISchedulerGrain>(0);

    public async Task<WorkerWelcome> ConnectAsync(WorkerRegistration registration, IWorkerObserver observer, ImmutableArray<string> reattached,
        ImmutableDictionary<string, int> slots, Guid connection)
    {
        // Members this grain knew of that the worker no longer runs ended without a result.
        foreach (var member in _members.Except(reattached).ToList())
            await Sweep(member).MemberLostAsync(member, $"worker {registration.WorkerId} reconnected without it");
        _members.Clear();
        _members.UnionWith(reattached);
        _observer = observer;
        _connection = connection;
        _registered = true;
        _lease.Renew(DateTime.UtcNow);
        await Scheduler.WorkerUpAsync(registration, reattached, slots);
        var heartbeat = TimeSpan.FromSeconds(options.Value.Workers.HeartbeatSeconds);
        _leaseTimer ??= this.RegisterGrainTimer(CheckLeaseAsync, heartbeat, heartbeat);
        LogConnected(logger, registration.WorkerId, registration.Slots, registration.Devices, registration.Endpoint, reattached.Length);
        return new WorkerWelcome
        {
            HeartbeatIntervalMs = (int)heartbeat.TotalMilliseconds,
            LeaseMs = (int)_lease.Duration.TotalMilliseconds,
        };
    }

    public Task<bool> HeartbeatAsync(Guid connection)
    {
        if (!_registered || connection != _connection) return Task.FromResult(false);
        _lease.Renew(DateTime.UtcNow);
        return Task.FromResult(true);
    }

    public async Task DisconnectAsync(Guid connection)
    {
        if (connection != _connection || !_registered) return;
        // The lease keeps running: the worker may reconnect and re-attach its members before it expires.
        _observer = null;
        await Scheduler.WorkerUnavailableAsync(this.GetPrimaryKeyString());
        LogDisconnected(logger, this.GetPrimaryKeyString());
    }

    public Task<bool> AssignAsync(Assignment assignment)
    {
        if (_observer is null || !_registered) return Task.FromResult(false);
        _members.Add(assignment.MemberId);
        _observer.Assign(assignment);
        return Task.FromResult(true);
    }

    public Task CancelAsync(string memberId, string reason)
    {
        if (_observer is not null && _members.Contains(memberId)) _observer.Cancel(memberId, reason);
        return Task.CompletedTask;
    }

    public Task MemberFinishedAsync(string memberId)
    {
        _members.Remove(memberId);
        return Task.CompletedTask;
    }

    public Task<bool> HasMemberAsync(string memberId) => Task.FromResult(_registered && _members.Contains(memberId));

    private async Task CheckLeaseAsync(CancellationToken cancellationToken)
    {
        if (!_registered || !_lease.IsExpired(DateTime.UtcNow)) return;
        var id = this.GetPrimaryKeyString();
        LogLeaseExpired(logger, id, _members.Count);
        _registered = false;
        _observer = null;
        await Scheduler.WorkerDownAsync(id);
        foreach (var member in _members)
            await Sweep(member).MemberLostAsync(member, $"lease of worker {id} expired");
        _members.Clear();
    }

    private ISweepGrain Sweep(string memberId) => GrainFactory.GetGrain<ISweepGrain>(MemberIds.Parse(memberId).SweepId);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Worker {WorkerId} connected: {Slots} slots, {Devices} devices, collective endpoint {Endpoint}, {Reattached} members re-attached")]
    private static partial void LogConnected(ILogger logger, string workerId, int slots, int devices, string endpoint, int reattached);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Worker {WorkerId} disconnected; its lease keeps its members until it expires")]
    private static partial void LogDisconnected(ILogger logger, string workerId);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Worker {WorkerId} lease expired with {Members} members")]
    private static partial void LogLeaseExpired(ILogger logger, string workerId, int members);
}
