using System.Collections.Immutable;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Artifacts;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Sweeps;
using Orchestrator.Coordinator.Telemetry;
using Orchestrator.Shared.Telemetry;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Api;

/// <summary>The public API: a thin shell over the sweep grains; validation of submitted specs happens here, on the server.</summary>
public sealed partial class JobsService(IGrainFactory grains, ArtifactStore artifacts, IHostApplicationLifetime lifetime, IOptions<CoordinatorOptions> options) : Proto.Jobs.JobsBase
{
    private const int ChunkBytes = 256 * 1024;

    public override async Task<Proto.SubmitSweepResponse> SubmitSweep(Proto.SubmitSweepRequest request, ServerCallContext context)
    {
        // The sweep's trace starts here: the sweep grain opens its span under this one (through the request context).
        using var activity = CoordinatorTelemetry.Source.StartActivity(SpanNames.Submit);
        try
        {
            var response = await SubmitAsync(request);
            activity?.SetTag(AttributeNames.SweepId, response.SweepId);
            return response;
        }
        catch (Exception e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.Message);
            activity?.AddException(e);
            throw;
        }
    }

    private async Task<Proto.SubmitSweepResponse> SubmitAsync(Proto.SubmitSweepRequest request)
    {
        if (request.RequestId.Length > 128)
            throw new ArgumentException("request_id: at most 128 characters");
        if (request.Spec is null)
            throw new SpecException([new SpecError("sweep", "missing: the request holds no spec")]);
        var limits = new SweepLimits { MaxTrials = options.Value.Limits.MaxTrials };
        var spec = SweepSpecProto.FromProto(request.Spec, limits);
        var cluster = options.Value.Limits.ClusterWorkers
            ?? Math.Max(1, await grains.GetGrain<ISchedulerGrain>(0).ClusterSizeAsync(spec.Resources.Devices));
        var errors = SweepSpecValidator.ValidateSweep(spec, "sweep", limits with { ClusterWorkers = cluster }, templateValid: false);
        if (errors.Count > 0) throw new SpecException(errors);

        var reservation = await grains.GetGrain<ISweepRegistryGrain>(0).ReserveAsync(request.RequestId);
        if (System.Diagnostics.Activity.Current is { } current) RequestContext.Set(CoordinatorTelemetry.TraceParentKey, current.Id!);
        // The normalised form: the same sweep written with or without its defaults compares equal.
        var created = await grains.GetGrain<ISweepGrain>(reservation.SweepId).SubmitAsync(spec.ToProto().ToByteArray(), spec.Name);
        return new Proto.SubmitSweepResponse { SweepId = reservation.SweepId, Created = created };
    }

    public override async Task<Proto.Sweep> GetSweep(Proto.GetSweepRequest request, ServerCallContext context) =>
        ProtoMapping.ToSweep(await GetRecordAsync(request.SweepId));

    public override async Task<Proto.ListSweepsResponse> ListSweeps(Proto.ListSweepsRequest request, ServerCallContext context)
    {
        var response = new Proto.ListSweepsResponse();
        foreach (var id in await grains.GetGrain<ISweepRegistryGrain>(0).ListAsync())
        {
            if (await grains.GetGrain<ISweepGrain>(id).GetAsync() is { } sweep)
                response.Sweeps.Add(ProtoMapping.ToSummary(sweep));
        }
        return response;
    }

    public override async Task WatchSweep(Proto.WatchSweepRequest request, IServerStreamWriter<Proto.SweepEvent> responseStream, ServerCallContext context)
    {
        var grain = grains.GetGrain<ISweepGrain>(CheckId(request.SweepId));
        var events = Channel.CreateUnbounded<Proto.SweepEvent>(new UnboundedChannelOptions { SingleReader = true });
        var watcher = new SweepWatcher(events.Writer);
        var reference = grains.CreateObjectReference<ISweepObserver>(watcher);
        await grain.SubscribeAsync(reference);
        try
        {
            // Subscribed before the snapshot, so no change falls between the two (a change may show twice).
            var sweep = await grain.GetAsync() ?? throw new KeyNotFoundException($"sweep {request.SweepId} does not exist");
            await responseStream.WriteAsync(new Proto.SweepEvent { Snapshot = ProtoMapping.ToSummary(sweep) }, context.CancellationToken);
            if (sweep.Status != SweepStatus.Running)
            {
                await responseStream.WriteAsync(new Proto.SweepEvent { Finished = new Proto.SweepFinished { Summary = ProtoMapping.ToSummary(sweep), Reason = sweep.Reason ?? "" } }, context.CancellationToken);
                return;
            }
            using var life = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
            await foreach (var e in events.Reader.ReadAllAsync(life.Token))
            {
                await responseStream.WriteAsync(e, context.CancellationToken);
                if (e.EventCase == Proto.SweepEvent.EventOneofCase.Finished) return;
            }
        }
        finally
        {
            await grain.UnsubscribeAsync(reference);
            grains.DeleteObjectReference<ISweepObserver>(reference);
            GC.KeepAlive(watcher);
        }
    }

    public override async Task<Proto.CancelSweepResponse> CancelSweep(Proto.CancelSweepRequest request, ServerCallContext context)
    {
        await GetRecordAsync(request.SweepId);
        var reason = string.IsNullOrWhiteSpace(request.Reason) ? "cancelled by the user" : request.Reason;
        var status = await grains.GetGrain<ISweepGrain>(request.SweepId).CancelAsync(reason[..Math.Min(reason.Length, 500)]);
        return new Proto.CancelSweepResponse { State = ProtoMapping.ToProto(status) };
    }

    public override async Task<Proto.Trial> GetTrial(Proto.GetTrialRequest request, ServerCallContext context)
    {
        await GetRecordAsync(request.SweepId);
        var trial = await grains.GetGrain<ISweepGrain>(request.SweepId).GetTrialAsync(request.TrialNumber)
            ?? throw new KeyNotFoundException($"sweep {request.SweepId} has no trial {request.TrialNumber}");
        return ProtoMapping.ToTrial(request.SweepId, trial);
    }

    public override async Task DownloadArtifact(Proto.DownloadArtifactRequest request, IServerStreamWriter<Proto.ArtifactData> responseStream, ServerCallContext context)
    {
        ArtifactStore.ValidateName(request.Name);
        await GetRecordAsync(request.SweepId);
        var trial = await grains.GetGrain<ISweepGrain>(request.SweepId).GetTrialAsync(request.TrialNumber)
            ?? throw new KeyNotFoundException($"sweep {request.SweepId} has no trial {request.TrialNumber}");
        if (!trial.Artifacts.Any(a => a.Name == request.Name))
            throw new KeyNotFoundException($"trial {request.TrialNumber} of sweep {request.SweepId} has no artifact '{request.Name}'");
        await using var file = artifacts.OpenRead(request.SweepId, request.TrialNumber, request.Name);
        await StreamAsync(file, (data, offset) => responseStream.WriteAsync(
            new Proto.ArtifactData { Data = data, Offset = offset, TotalSize = file.Length }, context.CancellationToken), context.CancellationToken);
    }

    /// <summary>Reads <paramref name="file"/> in chunks and hands each to <paramref name="write"/> with its offset.</summary>
    internal static async Task StreamAsync(FileStream file, Func<ByteString, long, Task> write, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            long offset = 0;
            int read;
            while ((read = await file.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken)) > 0)
            {
                await write(ByteString.CopyFrom(buffer, 0, read), offset);
                offset += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<SweepRecord> GetRecordAsync(string sweepId) =>
        await grains.GetGrain<ISweepGrain>(CheckId(sweepId)).GetAsync() ?? throw new KeyNotFoundException($"sweep {sweepId} does not exist");

    private static string CheckId(string sweepId) =>
        SweepIdPattern().IsMatch(sweepId ?? "") ? sweepId! : throw new ArgumentException($"sweep_id '{sweepId}' is not a sweep id (sw- and 12 hex digits)");

    [GeneratedRegex("^sw-[0-9a-f]{12}$")]
    private static partial Regex SweepIdPattern();

    /// <summary>Turns a sweep grain's notifications into events of one WatchSweep stream.</summary>
    private sealed class SweepWatcher(ChannelWriter<Proto.SweepEvent> events) : ISweepObserver
    {
        public void TrialChanged(TrialRecord trial) =>
            events.TryWrite(new Proto.SweepEvent { TrialChanged = new Proto.TrialChanged { Trial = ProtoMapping.ToSummary(trial) } });

        public void Progress(int trialNumber, long step, ImmutableDictionary<string, double> metrics)
        {
            var progress = new Proto.TrialProgress { TrialNumber = trialNumber, Step = step };
            progress.Metrics.Add(metrics);
            events.TryWrite(new Proto.SweepEvent { Progress = progress });
        }

        public void Finished(SweepRecord sweep) =>
            events.TryWrite(new Proto.SweepEvent { Finished = new Proto.SweepFinished { Summary = ProtoMapping.ToSummary(sweep), Reason = sweep.Reason ?? "" } });
    }
}
