using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Google.Protobuf;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Telemetry;
using Orchestrator.Worker.Training;
using TrialStatus = Orchestrator.Worker.Training.TrialStatus;
using TrialEvent = Orchestrator.Worker.Training.TrialEvent;

namespace Orchestrator.Worker.Agent;

/// <summary>
/// A GAN trial member as a child `orchestrator train --events` process in its own run directory: resumed from the
/// checkpoint artifact the coordinator names, its progress forwarded, its checkpoints and sample grids uploaded as
/// they are written (rank 0), and its summary turned into the attempt's result.
/// </summary>
internal sealed class GanAttempt(WorkerAgent agent, Assign assign) : Attempt(agent, assign)
{
    private const int ChunkBytes = 1024 * 1024;
    private static readonly TimeSpan TransferDeadline = TimeSpan.FromMinutes(10);
    private readonly Channel<(string Path, string Name, string Kind, long Step)> _uploads =
        Channel.CreateUnbounded<(string, string, string, long)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The artifact name of the checkpoint taken at <paramref name="step"/> (workers.proto's convention).</summary>
    public static string CheckpointName(long step) => string.Create(CultureInfo.InvariantCulture, $"checkpoint-{step:D9}.ckpt");

    protected override async Task<AttemptResult> RunAsync()
    {
        var options = Agent.Options;
        var root = Path.Combine(options.WorkDirectory, Safe(Id));
        var specFile = Path.Combine(root, "spec", "trial.yaml");
        var run = new RunDirectory(Path.Combine(root, "run"));
        Directory.CreateDirectory(Path.GetDirectoryName(specFile)!);
        // YAML is a superset of JSON, and the proto's field names are the YAML keys.
        var json = new JsonFormatter(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true)).Format(Assign.Trial ?? new Shared.Protos.TrialSpec());
        await File.WriteAllTextAsync(specFile, $"{{\"trial\": {json}}}\n", Encoding.UTF8, Stopping).ConfigureAwait(false);

        var arguments = new List<string>(options.TrainCommand.Skip(1)) { "train", "--events" };
        if (Assign.ResumeArtifact.Length > 0)
        {
            long step = StepOf(Assign.ResumeArtifact);
            run.Create();
            File.Copy(specFile, run.TrialFile, overwrite: true);
            await DownloadAsync(Assign.ResumeArtifact, run.CheckpointPath((int)step)).ConfigureAwait(false);
            arguments.AddRange(["--resume", run.Root]);
        }
        else
        {
            if (Directory.Exists(run.Root)) Directory.Delete(run.Root, recursive: true);
            arguments.AddRange(["--config", specFile, "--out", run.Root]);
        }
        if (Assign.WorldSize > 1 || Assign.Devices > 1)
        {
            arguments.AddRange([
                "--rank", Inv(Assign.Rank), "--world", Inv(Math.Max(1, Assign.WorldSize)), "--devices", Inv(Math.Max(1, Assign.Devices)),
                "--group", Assign.GroupId, "--collective-timeout", Inv(options.CollectiveTimeoutSeconds),
            ]);
            if (Assign.PeerEndpoints.Count > 0) arguments.AddRange(["--peers", string.Join(',', Assign.PeerEndpoints)]);
        }
        if (options.SlotCores(Assign.Slot) is { } cores) arguments.AddRange(["--cores", Training.CpuAffinity.Format(cores)]);
        // The trial ends itself (with a checkpoint) if this agent dies without stopping it.
        arguments.AddRange(["--parent-pid", Inv(Environment.ProcessId)]);

        var uploader = UploadLoopAsync();
        _samplesPerStep = Math.Max(1, Assign.WorldSize) * (long)Math.Max(1, Assign.Devices) * (long)PerReplicaBatch();
        using var process = TrialProcess.Start(options.TrainCommand[0], arguments, root, OnEvent, TraceEnvironment());
        int exitCode;
        using (Stopping.Register(() => _ = process.StopAsync(options.StopGrace)))
        {
            exitCode = await process.WaitForExitAsync().ConfigureAwait(false);
        }
        _uploads.Writer.TryComplete();
        await uploader.ConfigureAwait(false);
        if (Assign.Rank == 0 && File.Exists(run.MetricsFile))
            await UploadAsync(run.MetricsFile, "metrics.jsonl", "metrics", Step).ConfigureAwait(false);
        return Result(process.Summary, exitCode, process.RecentOutput);
    }

    private long _samplesPerStep;
    private long _lastStep = -1;

    /// <summary>What the trial process needs to continue this attempt's trace and label its telemetry.</summary>
    private Dictionary<string, string> TraceEnvironment()
    {
        var environment = new Dictionary<string, string>
        {
            [TraceEnvironmentNames.SweepId] = Assign.SweepId,
            [TraceEnvironmentNames.TrialNumber] = Inv(Assign.TrialNumber),
            [TraceEnvironmentNames.WorkerId] = Agent.Options.WorkerId,
        };
        if (System.Diagnostics.Activity.Current?.Id is { } parent) environment[TraceEnvironmentNames.TraceParent] = parent;
        return environment;
    }

    private int PerReplicaBatch()
    {
        try
        {
            var spec = Spec();
            return spec.Data.PerReplicaBatch(Math.Max(1, Assign.WorldSize) * Math.Max(1, Assign.Devices)) * spec.Training.NCritic;
        }
        catch (ArgumentException)
        {
            return 1;
        }
    }

    private void OnEvent(TrialEvent e)
    {
        if (Assign.Rank == 0) AgentTelemetry.Record(e, Assign.SweepId, Assign.TrialNumber, _samplesPerStep, ref _lastStep);
        switch (e.Kind)
        {
            case "step" or "eval" when e.Step is { } step && e.Metrics is { } metrics:
                Progress(step, metrics);
                if (e.Kind == "eval" && Assign.Rank == 0 && e.Path is { } samples && File.Exists(samples))
                    _uploads.Writer.TryWrite((samples, $"samples-{step:D9}.png", "samples", step));
                break;
            case "checkpoint" when Assign.Rank == 0 && e.Step is { } step && e.Path is { } path:
                _uploads.Writer.TryWrite((path, CheckpointName(step), "checkpoint", step));
                break;
        }
    }

    private AttemptResult Result(Training.TrialSummary? summary, int exitCode, string output)
    {
        if (summary is null)
        {
            // No summary: the process died (killed, crashed) or refused its arguments before training.
            bool signalled = exitCode >= 128 || exitCode < 0;
            return new AttemptResult
            {
                Status = Stopping.IsCancellationRequested ? StopStatus : signalled ? ResultStatus.Interrupted : ResultStatus.Failed,
                Step = Step,
                Reason = $"trial process exited with code {exitCode} before reporting a result" +
                    (output.Length > 0 ? ": " + output[Math.Max(0, output.Length - 2000)..] : ""),
            };
        }
        var result = new AttemptResult
        {
            Step = summary.Step,
            Reason = summary.Reason ?? "",
            Status = summary.Status switch
            {
                TrialStatus.Completed => ResultStatus.Completed,
                TrialStatus.Diverged => ResultStatus.Diverged,
                TrialStatus.Interrupted => StopStatus,
                TrialStatus.Failed when summary.Retryable == true => ResultStatus.Interrupted,
                _ => ResultStatus.Failed,
            },
        };
        foreach (var (name, value) in summary.Evaluation)
        {
            if (double.IsFinite(value)) result.FinalMetrics[name] = value;
        }
        return result;
    }

    private async Task UploadLoopAsync()
    {
        await foreach (var (path, name, kind, step) in _uploads.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await UploadAsync(path, name, kind, step).ConfigureAwait(false);
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or IOException)
            {
                // A lost upload costs at most a checkpoint interval on a retry; the trial itself goes on.
                Agent.Logger.LogUploadFailed(Id, name, e.Message);
            }
        }
    }

    private async Task UploadAsync(string path, string name, string kind, long step)
    {
        using var activity = AgentTelemetry.StartUpload(kind, name, step);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await SendAsync(path, name, kind, step).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.Message);
            activity?.AddException(e);
            throw;
        }
        AgentTelemetry.UploadDone(kind, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    private async Task SendAsync(string path, string name, string kind, long step)
    {
        using var call = Agent.Client.UploadArtifact(Agent.Headers, DateTime.UtcNow + TransferDeadline);
        await call.RequestStream.WriteAsync(new ArtifactUpload
        {
            Header = new ArtifactHeader { AttemptId = Id, Name = name, Kind = kind, Step = step },
        }).ConfigureAwait(false);
        var buffer = new byte[ChunkBytes];
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            int read;
            while ((read = await file.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                await call.RequestStream.WriteAsync(new ArtifactUpload { Chunk = new ArtifactChunk { Data = ByteString.CopyFrom(buffer, 0, read) } }).ConfigureAwait(false);
        }
        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        await call.ResponseAsync.ConfigureAwait(false);
    }

    private async Task DownloadAsync(string name, string destination)
    {
        var temp = destination + ".download";
        var request = new WorkerDownloadRequest { AttemptId = Id, Name = name };
        // PBT: the checkpoint another member of the sweep wrote, continued here with this Assign's parameters.
        if (Assign.HasResumeTrialNumber) request.TrialNumber = Assign.ResumeTrialNumber;
        using (var call = Agent.Client.DownloadArtifact(request, Agent.Headers,
            DateTime.UtcNow + TransferDeadline, Stopping))
        await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            while (await call.ResponseStream.MoveNext(Stopping).ConfigureAwait(false))
                await file.WriteAsync(call.ResponseStream.Current.Data.Memory, Stopping).ConfigureAwait(false);
        }
        File.Move(temp, destination, overwrite: true);
    }

    private static long StepOf(string checkpointArtifact)
    {
        var stem = Path.GetFileNameWithoutExtension(checkpointArtifact);
        int dash = stem.LastIndexOf('-');
        if (dash < 0 || !long.TryParse(stem.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var step) || step > int.MaxValue)
            throw new InvalidDataException($"resume artifact '{checkpointArtifact}' is not named checkpoint-<step>.ckpt");
        return step;
    }

    private static string Safe(string id) => string.Concat(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_'));

    private static string Inv(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
