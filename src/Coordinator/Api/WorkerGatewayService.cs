using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Grpc.Core;
using Orchestrator.Coordinator.Artifacts;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Scheduling;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Api;

/// <summary>
/// The workers' side of the protocol (see protos/workers.proto): one Connect stream per worker, bridged to its
/// <see cref="IWorkerGrain"/> through an observer; progress and results go straight to the sweep that owns them.
/// </summary>
public sealed partial class WorkerGatewayService(IGrainFactory grains, ArtifactStore artifacts, IHostApplicationLifetime lifetime, ILogger<WorkerGatewayService> logger) : Proto.WorkerGateway.WorkerGatewayBase
{
    public override async Task Connect(IAsyncStreamReader<Proto.WorkerMessage> requestStream, IServerStreamWriter<Proto.CoordinatorMessage> responseStream, ServerCallContext context)
    {
        // The stream lives as long as the worker does: end it when the coordinator shuts down, or shutdown would
        // wait for every worker to hang up.
        using var life = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = life.Token;
        if (!await requestStream.MoveNext(ct)) return;
        if (requestStream.Current.KindCase != Proto.WorkerMessage.KindOneofCase.Hello)
            throw new InvalidOperationException("the first message on Connect must be a hello");
        var hello = requestStream.Current.Hello;
        var registration = Validate(hello);
        var worker = grains.GetGrain<IWorkerGrain>(registration.WorkerId);

        var outbox = Channel.CreateUnbounded<Proto.CoordinatorMessage>(new UnboundedChannelOptions { SingleReader = true });
        var connection = new WorkerConnection(outbox.Writer);
        var observer = grains.CreateObjectReference<IWorkerObserver>(connection);
        var id = Guid.NewGuid();
        try
        {
            var (attached, refused) = await ReattachAsync(registration.WorkerId, hello.Running.Select(r => r.AttemptId));
            var slots = hello.Running.GroupBy(r => r.AttemptId).ToImmutableDictionary(g => g.Key, g => g.First().Slot);
            foreach (var member in attached) connection.Running.TryAdd(member, slots.GetValueOrDefault(member));
            var welcome = await worker.ConnectAsync(registration, observer, attached, slots, id);
            await responseStream.WriteAsync(new Proto.CoordinatorMessage
            {
                Welcome = new Proto.Welcome { HeartbeatIntervalMs = welcome.HeartbeatIntervalMs, LeaseMs = welcome.LeaseMs },
            }, ct);
            foreach (var member in refused)
                outbox.Writer.TryWrite(new Proto.CoordinatorMessage { Cancel = new Proto.Cancel { AttemptId = member, Reason = "the coordinator no longer expects this attempt" } });

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var writer = WriteAllAsync(outbox.Reader, responseStream, stop.Token);
            try
            {
                await foreach (var message in requestStream.ReadAllAsync(ct).WithCancellation(ct))
                {
                    if (!await worker.HeartbeatAsync(id))
                    {
                        // The worker grain lost track of this connection (its lease expired, or it was re-created):
                        // register again with what the stream is running.
                        var (again, _) = await ReattachAsync(registration.WorkerId, connection.Running.Keys.ToList());
                        await worker.ConnectAsync(registration, observer, again, connection.Running.ToImmutableDictionary(), id);
                    }
                    await HandleAsync(message, registration.WorkerId, worker, connection);
                }
            }
            finally
            {
                outbox.Writer.TryComplete();
                await stop.CancelAsync();
                await writer;
            }
        }
        finally
        {
            await worker.DisconnectAsync(id);
            grains.DeleteObjectReference<IWorkerObserver>(observer);
            GC.KeepAlive(connection);
        }
    }

    public override async Task<Proto.UploadArtifactResponse> UploadArtifact(IAsyncStreamReader<Proto.ArtifactUpload> requestStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct) || requestStream.Current.KindCase != Proto.ArtifactUpload.KindOneofCase.Header)
            throw new ArgumentException("an upload starts with an ArtifactHeader");
        var header = requestStream.Current.Header;
        ArtifactStore.ValidateName(header.Name);
        if (!ArtifactKinds.All.Contains(header.Kind))
            throw new ArgumentException($"kind: unknown value '{header.Kind}'; allowed: {string.Join(", ", ArtifactKinds.All)}");
        var member = MemberIds.Parse(header.AttemptId);
        var size = await artifacts.WriteAsync(member.SweepId, member.Trial, header.Name, Chunks(requestStream, ct), ct);
        var recorded = await grains.GetGrain<ISweepGrain>(member.SweepId).ArtifactUploadedAsync(header.AttemptId,
            new ArtifactRecord { Name = header.Name, Kind = header.Kind, Size = size, Step = header.Step });
        if (!recorded)
        {
            artifacts.Delete(member.SweepId, member.Trial, header.Name);
            throw new KeyNotFoundException($"attempt {header.AttemptId} is unknown");
        }
        LogUploaded(logger, header.Name, header.AttemptId, size);
        return new Proto.UploadArtifactResponse { Size = size };
    }

    public override async Task DownloadArtifact(Proto.WorkerDownloadRequest request, IServerStreamWriter<Proto.ArtifactChunk> responseStream, ServerCallContext context)
    {
        ArtifactStore.ValidateName(request.Name);
        var member = MemberIds.Parse(request.AttemptId);
        var sweep = grains.GetGrain<ISweepGrain>(member.SweepId);
        var trial = await sweep.GetTrialAsync(member.Trial);
        var owner = member.Trial;
        if (request.HasTrialNumber && request.TrialNumber != member.Trial)
        {
            // Another trial's artifact: only the checkpoint this attempt was assigned to resume from (PBT exploit).
            var attempt = trial is not null && member.Attempt >= 1 && member.Attempt <= trial.Attempts.Count ? trial.Attempts[member.Attempt - 1] : null;
            if (attempt is null || attempt.ResumedFromTrial != request.TrialNumber || attempt.ResumedFrom != request.Name)
                throw new KeyNotFoundException($"attempt {request.AttemptId} was not assigned trial {request.TrialNumber}'s '{request.Name}'");
            owner = request.TrialNumber;
            trial = await sweep.GetTrialAsync(owner);
        }
        if (trial is null || !trial.Artifacts.Any(a => a.Name == request.Name))
            throw new KeyNotFoundException($"trial {owner} of attempt {request.AttemptId} has no artifact '{request.Name}'");
        await using var file = artifacts.OpenRead(member.SweepId, owner, request.Name);
        await JobsService.StreamAsync(file, (data, _) => responseStream.WriteAsync(new Proto.ArtifactChunk { Data = data }, context.CancellationToken), context.CancellationToken);
    }

    private async Task HandleAsync(Proto.WorkerMessage message, string workerId, IWorkerGrain worker, WorkerConnection connection)
    {
        switch (message.KindCase)
        {
            case Proto.WorkerMessage.KindOneofCase.Heartbeat:
                break;
            case Proto.WorkerMessage.KindOneofCase.Progress:
            {
                var progress = message.Progress;
                if (!MemberIds.TryParse(progress.AttemptId, out var member)) break;
                await grains.GetGrain<ISweepGrain>(member.SweepId).ProgressAsync(progress.AttemptId, progress.Step, ProtoMapping.Metrics(progress.Metrics));
                break;
            }
            case Proto.WorkerMessage.KindOneofCase.Result:
            {
                var result = message.Result;
                if (!MemberIds.TryParse(result.AttemptId, out var member)) break;
                await grains.GetGrain<ISweepGrain>(member.SweepId).ResultAsync(result.AttemptId, new MemberResult
                {
                    Status = ProtoMapping.FromProto(result.Status),
                    FinalMetrics = ProtoMapping.Metrics(result.FinalMetrics),
                    Reason = result.Reason,
                    Step = result.Step,
                });
                await worker.MemberFinishedAsync(result.AttemptId);
                connection.Running.TryRemove(result.AttemptId, out _);
                break;
            }
            case Proto.WorkerMessage.KindOneofCase.Hello:
                throw new InvalidOperationException($"worker {workerId} sent a second hello on one stream; reconnect instead");
            default:
                throw new ArgumentException($"worker {workerId} sent an empty message");
        }
    }

    private async Task<(ImmutableArray<string> Attached, List<string> Refused)> ReattachAsync(string workerId, IEnumerable<string> running)
    {
        var attached = ImmutableArray.CreateBuilder<string>();
        var refused = new List<string>();
        foreach (var memberId in running.Distinct())
        {
            var ok = MemberIds.TryParse(memberId, out var member)
                && await grains.GetGrain<ISweepGrain>(member.SweepId).ReattachAsync(memberId, workerId);
            (ok ? (ICollection<string>)attached : refused).Add(memberId);
        }
        return (attached.ToImmutable(), refused);
    }

    private static WorkerRegistration Validate(Proto.Hello hello)
    {
        if (!WorkerIdPattern().IsMatch(hello.WorkerId))
            throw new ArgumentException($"hello.worker_id '{hello.WorkerId}' must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-'");
        if (hello.Slots is < 1 or > 1024)
            throw new ArgumentException($"hello.slots must be between 1 and 1024, got {hello.Slots}");
        if (hello.Devices is < 1 or > 64)
            throw new ArgumentException($"hello.devices must be between 1 and 64, got {hello.Devices}");
        if (hello.CollectiveEndpoint.Length is 0 or > 256 || !hello.CollectiveEndpoint.Contains(':'))
            throw new ArgumentException($"hello.collective_endpoint must be host:port, got '{hello.CollectiveEndpoint}'");
        return new WorkerRegistration
        {
            WorkerId = hello.WorkerId,
            Slots = hello.Slots,
            Devices = hello.Devices,
            Endpoint = hello.CollectiveEndpoint,
            Description = hello.Description.Length > 256 ? hello.Description[..256] : hello.Description,
        };
    }

    private static async Task WriteAllAsync(ChannelReader<Proto.CoordinatorMessage> outbox, IServerStreamWriter<Proto.CoordinatorMessage> stream, CancellationToken ct)
    {
        try
        {
            await foreach (var message in outbox.ReadAllAsync(ct))
                await stream.WriteAsync(message, ct);
        }
        catch (OperationCanceledException)
        {
            // The stream is closing.
        }
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks(IAsyncStreamReader<Proto.ArtifactUpload> stream, [EnumeratorCancellation] CancellationToken ct)
    {
        while (await stream.MoveNext(ct))
        {
            if (stream.Current.KindCase != Proto.ArtifactUpload.KindOneofCase.Chunk)
                throw new ArgumentException("after the header an upload holds only chunks");
            yield return stream.Current.Chunk.Data.Memory;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex WorkerIdPattern();

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Artifact {Name} uploaded by {AttemptId}: {Size} bytes")]
    private static partial void LogUploaded(ILogger logger, string name, string attemptId, long size);

    /// <summary>One worker's stream as an observer: grains' notifications become messages in its outbox.</summary>
    private sealed class WorkerConnection(ChannelWriter<Proto.CoordinatorMessage> outbox) : IWorkerObserver
    {
        /// <summary>Members assigned through this stream that have not reported a result.</summary>
        public ConcurrentDictionary<string, int> Running { get; } = new(StringComparer.Ordinal);

        public void Assign(Assignment assignment)
        {
            Running.TryAdd(assignment.MemberId, assignment.Slot);
            outbox.TryWrite(new Proto.CoordinatorMessage { Assign = ProtoMapping.ToProto(assignment) });
        }

        public void Cancel(string memberId, string reason) =>
            outbox.TryWrite(new Proto.CoordinatorMessage { Cancel = new Proto.Cancel { AttemptId = memberId, Reason = reason } });
    }
}
