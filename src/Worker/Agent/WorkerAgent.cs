using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Orchestrator.Shared.Protos;

namespace Orchestrator.Worker.Agent;

/// <summary>
/// The worker agent: holds one <c>WorkerGateway.Connect</c> stream to the coordinator (hello, heartbeats, progress,
/// results out; assignments and cancels in), runs every assigned trial member (GAN trials as child processes,
/// built-in trials in process), and keeps them running across lost connections: it reconnects with backoff, lists
/// them in its next hello so the coordinator re-attaches them, and delivers results that finished meanwhile.
/// </summary>
public sealed partial class WorkerAgent : IAsyncDisposable
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(500);
    private readonly WorkerAgentOptions _options;
    private readonly ILogger _logger;
    private readonly GrpcChannel _channel;
    private readonly WorkerGateway.WorkerGatewayClient _client;
    private readonly ConcurrentDictionary<string, Attempt> _attempts = new();
    // Results not yet written to a live stream, by attempt id: sent after the next welcome if the stream breaks.
    private readonly ConcurrentDictionary<string, AttemptResult> _undelivered = new();
    private volatile ChannelWriter<WorkerMessage>? _outbox;
    private readonly TaskCompletionSource _welcomed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WorkerAgent(WorkerAgentOptions options, ILogger logger)
    {
        options.Validate();
        _options = options;
        _logger = logger;
        _channel = GrpcChannel.ForAddress(options.Coordinator, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                // A half-open connection (coordinator host gone) shows up as a failed ping, not as silence forever.
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                EnableMultipleHttp2Connections = true,
            },
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
        _client = new WorkerGateway.WorkerGatewayClient(_channel);
        Directory.CreateDirectory(options.WorkDirectory);
    }

    internal WorkerAgentOptions Options => _options;

    internal WorkerGateway.WorkerGatewayClient Client => _client;

    internal ILogger Logger => _logger;

    internal Metadata? Headers => _options.JoinToken is { } token ? new Metadata { { "authorization", $"Bearer {token}" } } : null;

    /// <summary>Completes when the coordinator first welcomed this worker.</summary>
    public Task Welcomed => _welcomed.Task;

    /// <summary>Attempts running now, by id.</summary>
    public IReadOnlyCollection<string> Running => _attempts.Keys.ToArray();

    /// <summary>
    /// Serves the coordinator until <paramref name="stopping"/> fires; then stops every running attempt (each
    /// checkpoints), reports them as interrupted so the coordinator re-queues them at once, and returns.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The coordinator refused the join token.</exception>
    public async Task RunAsync(CancellationToken stopping)
    {
        var backoff = InitialBackoff;
        while (!stopping.IsCancellationRequested)
        {
            bool welcomed = false;
            try
            {
                welcomed = await SessionAsync(stopping).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                throw new UnauthorizedAccessException($"the coordinator at {_options.Coordinator} refused this worker: {e.Status.Detail}", e);
            }
            catch (Exception e) when (e is RpcException or IOException or HttpRequestException or InvalidOperationException or OperationCanceledException)
            {
                if (stopping.IsCancellationRequested) break;
                LogDisconnected(_logger, _options.Coordinator, e.Message, _attempts.Count);
            }
            if (welcomed) backoff = InitialBackoff;
            if (stopping.IsCancellationRequested) break;
            try
            {
                await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250)), stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
        }
        await StopAllAsync("the worker is shutting down").ConfigureAwait(false);
    }

    /// <summary>One connection's life; true once the coordinator welcomed it.</summary>
    private async Task<bool> SessionAsync(CancellationToken stopping)
    {
        using var session = new CancellationTokenSource();
        using var call = _client.Connect(Headers, cancellationToken: session.Token);
        var hello = new Hello
        {
            WorkerId = _options.WorkerId,
            Slots = _options.Slots,
            Devices = _options.Devices,
            CollectiveEndpoint = $"{_options.CollectiveHost}:{_options.CollectivePort}",
            Description = $"orchestrator worker on {Environment.MachineName}, {Environment.ProcessorCount} CPU(s)",
        };
        foreach (var attempt in _attempts.Values) hello.Running.Add(new RunningAttempt { AttemptId = attempt.Id, Step = attempt.Step, Slot = attempt.Slot });
        await call.RequestStream.WriteAsync(new WorkerMessage { Hello = hello }, session.Token).ConfigureAwait(false);

        using (var welcomeTimeout = CancellationTokenSource.CreateLinkedTokenSource(session.Token, stopping))
        {
            welcomeTimeout.CancelAfter(TimeSpan.FromSeconds(30));
            if (!await call.ResponseStream.MoveNext(welcomeTimeout.Token).ConfigureAwait(false))
                throw new IOException("the coordinator closed the stream before welcoming this worker");
        }
        var welcome = call.ResponseStream.Current.Welcome
            ?? throw new InvalidOperationException($"the coordinator answered hello with {call.ResponseStream.Current.KindCase}, not a welcome");
        var interval = TimeSpan.FromMilliseconds(Math.Clamp(welcome.HeartbeatIntervalMs, 100, 60_000));
        LogConnected(_logger, _options.Coordinator, _options.WorkerId, _attempts.Count, interval.TotalMilliseconds);
        _welcomed.TrySetResult();

        var outbox = Channel.CreateUnbounded<WorkerMessage>(new UnboundedChannelOptions { SingleReader = true });
        _outbox = outbox.Writer;
        foreach (var result in _undelivered.Values) outbox.Writer.TryWrite(new WorkerMessage { Result = result });
        var writer = WriteLoopAsync(call.RequestStream, outbox.Reader, session);
        var heartbeat = HeartbeatLoopAsync(outbox.Writer, interval, session.Token);
        using var onStopping = stopping.Register(() => _ = DrainAndCloseAsync(outbox.Writer, session));
        try
        {
            while (await call.ResponseStream.MoveNext(session.Token).ConfigureAwait(false))
            {
                var message = call.ResponseStream.Current;
                switch (message.KindCase)
                {
                    case CoordinatorMessage.KindOneofCase.Assign:
                        Start(message.Assign);
                        break;
                    case CoordinatorMessage.KindOneofCase.Cancel:
                        if (_attempts.TryGetValue(message.Cancel.AttemptId, out var attempt))
                        {
                            LogCanceled(_logger, attempt.Id, message.Cancel.Reason);
                            attempt.Cancel(message.Cancel.Reason, shutdown: false);
                        }
                        break;
                }
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && session.IsCancellationRequested)
        {
            // Closed by this side (shutdown, or the writer failed).
        }
        finally
        {
            _outbox = null;
            outbox.Writer.TryComplete();
            await session.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(writer, heartbeat).ConfigureAwait(false);
        }
        return true;
    }

    private async Task WriteLoopAsync(IClientStreamWriter<WorkerMessage> stream, ChannelReader<WorkerMessage> outbox, CancellationTokenSource session)
    {
        try
        {
            await foreach (var message in outbox.ReadAllAsync(session.Token).ConfigureAwait(false))
            {
                await stream.WriteAsync(message, session.Token).ConfigureAwait(false);
                if (message.KindCase == WorkerMessage.KindOneofCase.Result) _undelivered.TryRemove(message.Result.AttemptId, out _);
            }
            // Completed by the shutdown path: every result is out, so end the stream cleanly.
            await stream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException or IOException or InvalidOperationException)
        {
            // The stream broke: end the session; undelivered results wait for the next one.
            await session.CancelAsync().ConfigureAwait(false);
        }
    }

    private static async Task HeartbeatLoopAsync(ChannelWriter<WorkerMessage> outbox, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!outbox.TryWrite(new WorkerMessage { Heartbeat = new Heartbeat() })) return;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Shutdown while connected: stop the attempts, let their results go out, then close the stream.</summary>
    private async Task DrainAndCloseAsync(ChannelWriter<WorkerMessage> outbox, CancellationTokenSource session)
    {
        await StopAllAsync("the worker is shutting down").ConfigureAwait(false);
        outbox.TryComplete();
        // The write loop completes the stream once the results are written; the coordinator then ends its side.
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5), session.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await session.CancelAsync().ConfigureAwait(false);
    }

    private async Task StopAllAsync(string reason)
    {
        var running = _attempts.Values.ToArray();
        foreach (var attempt in running) attempt.Cancel(reason, shutdown: true);
        await Task.WhenAll(running.Select(a => a.Completion)).ConfigureAwait(false);
    }

    private void Start(Assign assign)
    {
        if (_attempts.ContainsKey(assign.AttemptId)) return;
        var attempt = Attempt.Create(this, assign);
        if (!_attempts.TryAdd(assign.AttemptId, attempt)) return;
        LogAssigned(_logger, assign.AttemptId, assign.Trial is { Kind.Length: > 0 } trial ? trial.Kind : "gan", assign.Rank, assign.WorldSize, assign.Slot,
            assign.ResumeArtifact.Length > 0 ? assign.ResumeArtifact : "scratch");
        attempt.Start();
    }

    /// <summary>Progress of a running attempt; dropped while disconnected (the next one supersedes it).</summary>
    internal void Report(AttemptProgress progress) => _outbox?.TryWrite(new WorkerMessage { Progress = progress });

    /// <summary>An attempt's one result: kept until written to a live stream.</summary>
    internal void Complete(Attempt attempt, AttemptResult result)
    {
        _undelivered[result.AttemptId] = result;
        _attempts.TryRemove(attempt.Id, out _);
        LogFinished(_logger, result.AttemptId, result.Status, result.Step, result.Reason);
        _outbox?.TryWrite(new WorkerMessage { Result = result });
    }

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync("the worker is shutting down").ConfigureAwait(false);
        _channel.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Connected to {Coordinator} as {WorkerId}; {Running} attempt(s) re-attached, heartbeat every {IntervalMs} ms")]
    private static partial void LogConnected(ILogger logger, Uri coordinator, string workerId, int running, double intervalMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Lost the coordinator at {Coordinator} ({Reason}); {Running} attempt(s) keep running, reconnecting")]
    private static partial void LogDisconnected(ILogger logger, Uri coordinator, string reason, int running);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Attempt {AttemptId}: {Kind} trial, rank {Rank} of {World}, slot {Slot}, from {Resume}")]
    private static partial void LogAssigned(ILogger logger, string attemptId, string kind, int rank, int world, int slot, string resume);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Attempt {AttemptId} ended {Status} at step {Step} {Reason}")]
    private static partial void LogFinished(ILogger logger, string attemptId, ResultStatus status, long step, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Attempt {AttemptId} canceled by the coordinator: {Reason}")]
    private static partial void LogCanceled(ILogger logger, string attemptId, string reason);
}
