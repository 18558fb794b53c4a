using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Trials;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>
/// A worker for tests: a real client of workers.proto that runs `sleep` trials itself. It says hello, heartbeats,
/// reports progress per report, uploads a checkpoint after each report (when asked to), resumes from the
/// checkpoint it is assigned, obeys cancel, and reconnects with backoff, re-attaching what it still runs.
/// </summary>
public sealed class TestWorker : IAsyncDisposable
{
    private readonly string _address;
    private readonly string? _joinToken;
    private readonly CancellationTokenSource _life = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, RunningMember> _running = new();
    private readonly GrpcChannel _channel;
    private AsyncDuplexStreamingCall<Proto.WorkerMessage, Proto.CoordinatorMessage>? _call;
    private CancellationTokenSource? _connection;
    private Task? _loop;
    private volatile bool _killed;

    public TestWorker(string address, string id, int slots = 1, int devices = 1, string? joinToken = null, bool uploadCheckpoints = false)
    {
        _address = address;
        Id = id;
        Slots = slots;
        Devices = devices;
        _joinToken = joinToken;
        UploadCheckpoints = uploadCheckpoints;
        _channel = GrpcChannel.ForAddress(address);
    }

    public string Id { get; }
    public int Slots { get; }
    public int Devices { get; }
    public bool UploadCheckpoints { get; }
    public string Endpoint => $"{Id}.test:5555";

    /// <summary>Every assignment received, in order.</summary>
    public ConcurrentQueue<Proto.Assign> Assignments { get; } = new();
    /// <summary>Results sent, by attempt id.</summary>
    public ConcurrentDictionary<string, Proto.AttemptResult> Results { get; } = new();
    public ConcurrentQueue<Proto.Cancel> Cancels { get; } = new();
    /// <summary>Checkpoints downloaded to resume from, by attempt id.</summary>
    public ConcurrentDictionary<string, byte[]> Resumed { get; } = new();
    public int Welcomes;

    /// <summary>When true, rank 0 uploads a samples grid (a real, 1×1 PNG) after each report, as a trainer does after evaluating.</summary>
    public bool UploadSamples { get; set; }

    /// <summary>When false, assignments are recorded but not run (the member stays "running" until Kill or dispose).</summary>
    public bool RunTrials { get; set; } = true;

    public Task StartAsync()
    {
        _loop = Task.Run(RunAsync);
        return Task.CompletedTask;
    }

    /// <summary>Like kill -9: the stream is cut, nothing more is sent, no reconnect.</summary>
    public void Kill()
    {
        _killed = true;
        _life.Cancel();
        _connection?.Cancel();
    }

    public Proto.WorkerGateway.WorkerGatewayClient Client()
    {
        var invoker = _channel.CreateCallInvoker();
        return new Proto.WorkerGateway.WorkerGatewayClient(string.IsNullOrEmpty(_joinToken)
            ? invoker
            : invoker.Intercept(m =>
            {
                m.Add("authorization", $"Bearer {_joinToken}");
                return m;
            }));
    }

    private async Task RunAsync()
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!_life.IsCancellationRequested)
        {
            try
            {
                await ConnectOnceAsync();
                backoff = TimeSpan.FromMilliseconds(100);
            }
            catch (Exception) when (!_life.IsCancellationRequested)
            {
                // The coordinator is away: retry with backoff, keeping the members running.
            }
            catch (Exception)
            {
                return;
            }
            if (_life.IsCancellationRequested) return;
            try
            {
                await Task.Delay(backoff, _life.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromMilliseconds(Math.Min(1000, backoff.TotalMilliseconds * 2));
        }
    }

    private async Task ConnectOnceAsync()
    {
        _connection = CancellationTokenSource.CreateLinkedTokenSource(_life.Token);
        var ct = _connection.Token;
        using var call = Client().Connect(cancellationToken: ct);
        _call = call;
        var hello = new Proto.Hello { WorkerId = Id, Slots = Slots, Devices = Devices, CollectiveEndpoint = Endpoint, Description = "test worker" };
        foreach (var member in _running.Values)
            hello.Running.Add(new Proto.RunningAttempt { AttemptId = member.Assign.AttemptId, Step = member.Step });
        await SendAsync(new Proto.WorkerMessage { Hello = hello });
        var heartbeat = Task.CompletedTask;
        await foreach (var message in call.ResponseStream.ReadAllAsync(ct))
        {
            switch (message.KindCase)
            {
                case Proto.CoordinatorMessage.KindOneofCase.Welcome:
                    Interlocked.Increment(ref Welcomes);
                    heartbeat = HeartbeatAsync(TimeSpan.FromMilliseconds(message.Welcome.HeartbeatIntervalMs), ct);
                    // Results that finished while disconnected.
                    foreach (var member in _running.Values.Where(m => m.Result is not null).ToList())
                        await ReportAsync(member);
                    break;
                case Proto.CoordinatorMessage.KindOneofCase.Assign:
                    Assignments.Enqueue(message.Assign);
                    var running = new RunningMember(message.Assign);
                    _running[message.Assign.AttemptId] = running;
                    if (RunTrials) running.Task = Task.Run(() => RunMemberAsync(running));
                    break;
                case Proto.CoordinatorMessage.KindOneofCase.Cancel:
                    Cancels.Enqueue(message.Cancel);
                    if (_running.TryGetValue(message.Cancel.AttemptId, out var cancelled))
                    {
                        if (cancelled.Task is null)
                        {
                            cancelled.Result = new Proto.AttemptResult { AttemptId = cancelled.Assign.AttemptId, Status = Proto.ResultStatus.Canceled, Reason = message.Cancel.Reason };
                            await ReportAsync(cancelled);
                        }
                        else
                        {
                            await cancelled.Cancel.CancelAsync();
                        }
                    }
                    break;
            }
        }
    }

    private async Task HeartbeatAsync(TimeSpan interval, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(interval, ct);
                await SendAsync(new Proto.WorkerMessage { Heartbeat = new Proto.Heartbeat() });
            }
        }
        catch (Exception)
        {
            // The connection ended; the reconnect loop takes over.
        }
    }

    private async Task RunMemberAsync(RunningMember member)
    {
        var assign = member.Assign;
        var spec = TrialSpecProto.FromProto(assign.Trial);
        var first = 1;
        if (assign.ResumeArtifact.Length > 0)
        {
            byte[] bytes;
            try
            {
                bytes = await DownloadAsync(assign.AttemptId, assign.ResumeArtifact, assign.HasResumeTrialNumber ? assign.ResumeTrialNumber : null);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
                // Like a real worker: an attempt that cannot fetch its checkpoint (the coordinator went away mid-download)
                // is interrupted, and the coordinator retries it.
                if (_killed || _life.IsCancellationRequested) return;
                member.Result = new Proto.AttemptResult { AttemptId = assign.AttemptId, Status = Proto.ResultStatus.Interrupted, Reason = $"resume download failed: {e.Message}" };
                await ReportAsync(member);
                return;
            }
            Resumed[assign.AttemptId] = bytes;
            first = CheckpointStep(bytes) + 1;
        }
        try
        {
            var interval = TimeSpan.FromSeconds(BuiltinTrials.SleepInterval(spec.Sleep));
            for (var report = first; report <= spec.Sleep.Reports; report++)
            {
                await Task.Delay(interval, member.Cancel.Token);
                member.Step = report;
                var progress = new Proto.AttemptProgress { AttemptId = assign.AttemptId, Step = report };
                progress.Metrics[BuiltinTrials.ObjectiveMetric] = BuiltinTrials.SleepIntermediate(spec.Seed, report, spec.Sleep.Reports);
                await TrySendAsync(new Proto.WorkerMessage { Progress = progress });
                if (UploadSamples && assign.Rank == 0)
                    await UploadAsync(assign.AttemptId, $"samples-{report:D9}.png", "samples", report, SamplesPng);
                if (UploadCheckpoints && assign.Rank == 0)
                {
                    try
                    {
                        await UploadAsync(assign.AttemptId, assign.TrialNumber, report);
                    }
                    catch (RpcException)
                    {
                        // The coordinator is away (restarting): like a real worker, the trial goes on without this checkpoint.
                    }
                }
            }
            var result = new Proto.AttemptResult { AttemptId = assign.AttemptId, Status = Proto.ResultStatus.Completed, Step = spec.Sleep.Reports };
            foreach (var (key, value) in BuiltinTrials.FinalMetrics(spec)) result.FinalMetrics[key] = value;
            member.Result = result;
        }
        catch (OperationCanceledException)
        {
            member.Result = new Proto.AttemptResult { AttemptId = assign.AttemptId, Status = Proto.ResultStatus.Canceled, Reason = "cancelled", Step = member.Step };
        }
        if (_killed) return;
        await ReportAsync(member);
    }

    private async Task ReportAsync(RunningMember member)
    {
        if (await TrySendAsync(new Proto.WorkerMessage { Result = member.Result }))
        {
            Results[member.Assign.AttemptId] = member.Result!;
            _running.TryRemove(member.Assign.AttemptId, out _);
        }
    }

    /// <summary>A checkpoint's content: "trial &lt;n&gt; step &lt;s&gt;", so that a test can tell whose checkpoint was resumed.</summary>
    public static string CheckpointContent(int trial, int step) => $"trial {trial} step {step}";

    /// <summary>The step a checkpoint written by <see cref="CheckpointContent"/> was taken at.</summary>
    public static int CheckpointStep(byte[] content) =>
        int.Parse(System.Text.Encoding.UTF8.GetString(content).Split(' ')[^1], CultureInfo.InvariantCulture);

    private Task UploadAsync(string attemptId, int trial, int step) =>
        UploadAsync(attemptId, $"checkpoint-{step:D9}.ckpt", "checkpoint", step, System.Text.Encoding.UTF8.GetBytes(CheckpointContent(trial, step)));

    private async Task UploadAsync(string attemptId, string name, string kind, int step, byte[] content)
    {
        using var call = Client().UploadArtifact(cancellationToken: _life.Token);
        await call.RequestStream.WriteAsync(new Proto.ArtifactUpload
        {
            Header = new Proto.ArtifactHeader { AttemptId = attemptId, Name = name, Kind = kind, Step = step },
        });
        await call.RequestStream.WriteAsync(new Proto.ArtifactUpload
        {
            Chunk = new Proto.ArtifactChunk { Data = ByteString.CopyFrom(content) },
        });
        await call.RequestStream.CompleteAsync();
        await call;
    }

    /// <summary>A valid PNG of one pixel: what the dashboard shows as a trial's latest samples grid.</summary>
    public static readonly byte[] SamplesPng = Convert.FromBase64String(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==");

    private async Task<byte[]> DownloadAsync(string attemptId, string name, int? trial)
    {
        var request = new Proto.WorkerDownloadRequest { AttemptId = attemptId, Name = name };
        if (trial is { } owner) request.TrialNumber = owner;
        using var call = Client().DownloadArtifact(request, cancellationToken: _life.Token);
        using var buffer = new MemoryStream();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(_life.Token)) chunk.Data.WriteTo(buffer);
        return buffer.ToArray();
    }

    private async Task<bool> TrySendAsync(Proto.WorkerMessage message)
    {
        try
        {
            await SendAsync(message);
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    private async Task SendAsync(Proto.WorkerMessage message)
    {
        if (_killed) throw new OperationCanceledException("killed");
        await _sendLock.WaitAsync();
        try
        {
            await _call!.RequestStream.WriteAsync(message);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _killed = true;
        await _life.CancelAsync();
        _connection?.Cancel();
        foreach (var member in _running.Values) await member.Cancel.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (Exception)
            {
                // Shutting down.
            }
        }
        _channel.Dispose();
    }

    private sealed class RunningMember(Proto.Assign assign)
    {
        public Proto.Assign Assign { get; } = assign;
        public CancellationTokenSource Cancel { get; } = new();
        public Task? Task { get; set; }
        public long Step { get; set; }
        public Proto.AttemptResult? Result { get; set; }
    }
}
