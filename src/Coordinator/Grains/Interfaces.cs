using System.Collections.Immutable;
using Orleans.Concurrency;
using Orchestrator.Coordinator.Scheduling;
using Orchestrator.Coordinator.Sweeps;

namespace Orchestrator.Coordinator.Grains;

/// <summary>One sweep (key: sweep id): its spec, searcher, trials with attempts and metric history, budget.</summary>
public interface ISweepGrain : IGrainWithStringKey
{
    /// <summary>Starts the sweep with this spec; false when it already runs with the same spec.</summary>
    /// <exception cref="SweepConflictException">The sweep exists with another spec.</exception>
    Task<bool> SubmitAsync(byte[] specProto, string name);
    Task<SweepRecord?> GetAsync();
    Task<TrialRecord?> GetTrialAsync(int trialNumber);
    Task<SweepStatus> CancelAsync(string reason);
    /// <summary>Activates the sweep after a restart: queued trials go back to the scheduler, running ones wait for their workers.</summary>
    Task ResumeAsync();

    /// <summary>The scheduler found a gang: records the attempt and returns one assignment per rank (none when the trial no longer waits).</summary>
    Task<ImmutableArray<Assignment>> StartAttemptAsync(int trialNumber, int attemptNumber, ImmutableArray<string> workers, ImmutableArray<string> endpoints);
    Task ProgressAsync(string memberId, long step, ImmutableDictionary<string, double> metrics);
    Task ResultAsync(string memberId, MemberResult result);
    /// <summary>A member is gone without a result (lease expired, not re-attached, undeliverable).</summary>
    [OneWay]
    Task MemberLostAsync(string memberId, string reason);
    /// <summary>A reconnected worker still runs this member: true when the sweep still expects it there.</summary>
    Task<bool> ReattachAsync(string memberId, string workerId);
    /// <summary>Records an uploaded artifact; false when the member's attempt is unknown.</summary>
    Task<bool> ArtifactUploadedAsync(string memberId, ArtifactRecord artifact);
    Task SubscribeAsync(ISweepObserver observer);
    Task UnsubscribeAsync(ISweepObserver observer);
}

/// <summary>One worker (key: worker id): its slots, devices, endpoint, lease and the stream it is connected through.</summary>
public interface IWorkerGrain : IGrainWithStringKey
{
    Task<WorkerWelcome> ConnectAsync(WorkerRegistration registration, IWorkerObserver observer, ImmutableArray<string> reattached,
        ImmutableDictionary<string, int> slots, Guid connection);
    /// <summary>Renews the lease; false when this connection is not the worker's current one (it must say hello again).</summary>
    Task<bool> HeartbeatAsync(Guid connection);
    Task DisconnectAsync(Guid connection);
    /// <summary>Delivers an assignment through the connected stream; false when the worker is not connected.</summary>
    Task<bool> AssignAsync(Assignment assignment);
    [OneWay]
    Task CancelAsync(string memberId, string reason);
    Task MemberFinishedAsync(string memberId);
    Task<bool> HasMemberAsync(string memberId);
}

/// <summary>The one scheduler (key 0): gang placement of queued trials on free worker slots.</summary>
/// <remarks>Notifications are one-way: grains that call the scheduler never wait on it, so its calls back to them cannot deadlock.</remarks>
public interface ISchedulerGrain : IGrainWithIntegerKey
{
    [OneWay]
    Task WorkerUpAsync(WorkerRegistration registration, ImmutableArray<string> occupiedBy, ImmutableDictionary<string, int> slots);
    [OneWay]
    Task WorkerUnavailableAsync(string workerId);
    [OneWay]
    Task WorkerDownAsync(string workerId);
    [OneWay]
    Task EnqueueAsync(GangRequest request);
    [OneWay]
    Task WithdrawAsync(string sweepId, int trialNumber);
    [OneWay]
    Task ReleaseAsync(string memberId);
    /// <summary>Workers known with at least <paramref name="devices"/> devices.</summary>
    Task<int> ClusterSizeAsync(int devices);
}

/// <summary>Every sweep id (key 0), and the request ids that created them.</summary>
public interface ISweepRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>The sweep id for a submission: the one the request id created before, or a new one.</summary>
    Task<SweepReservation> ReserveAsync(string requestId);
    Task<ImmutableList<string>> ListAsync();
}

/// <summary>The gRPC stream of one connected worker, as grains see it.</summary>
public interface IWorkerObserver : IGrainObserver
{
    void Assign(Assignment assignment);
    void Cancel(string memberId, string reason);
}

/// <summary>A WatchSweep stream.</summary>
public interface ISweepObserver : IGrainObserver
{
    void TrialChanged(TrialRecord trial);
    void Progress(int trialNumber, long step, ImmutableDictionary<string, double> metrics);
    void Finished(SweepRecord sweep);
}

/// <summary>A request id was reused with a different sweep spec.</summary>
/// <remarks>Crosses grain calls through Orleans' exception codec, which keeps the type and message.</remarks>
public sealed class SweepConflictException(string message) : Exception(message);

/// <summary>Storage provider names.</summary>
public static class StorageNames
{
    public const string Sweeps = "sweeps";
}
