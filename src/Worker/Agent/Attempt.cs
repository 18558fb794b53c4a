using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Specs;

namespace Orchestrator.Worker.Agent;

/// <summary>One assigned trial member on this worker, from Assign to its one Result.</summary>
internal abstract class Attempt
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _stopReason;
    private bool _shutdown;
    private long _step;

    protected Attempt(WorkerAgent agent, Assign assign)
    {
        Agent = agent;
        Assign = assign;
    }

    public static Attempt Create(WorkerAgent agent, Assign assign) =>
        (assign.Trial?.Kind ?? TrialKinds.Gan) is TrialKinds.Sleep or TrialKinds.Quadratic
            ? new BuiltinAttempt(agent, assign)
            : new GanAttempt(agent, assign);

    protected WorkerAgent Agent { get; }

    protected Assign Assign { get; }

    public string Id => Assign.AttemptId;

    public int Slot => Assign.Slot;

    /// <summary>The latest step reported.</summary>
    public long Step => Interlocked.Read(ref _step);

    /// <summary>Completes once the result has been handed to the agent.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Fires when the coordinator cancels this attempt or the worker shuts down.</summary>
    protected CancellationToken Stopping => _stop.Token;

    /// <summary>The status a stop ends the attempt with: canceled by the coordinator, or interrupted by a shutdown (retried).</summary>
    protected ResultStatus StopStatus => Volatile.Read(ref _shutdown) ? ResultStatus.Interrupted : ResultStatus.Canceled;

    protected string StopReason => Volatile.Read(ref _stopReason) ?? "stopped";

    public void Cancel(string reason, bool shutdown)
    {
        Interlocked.CompareExchange(ref _stopReason, reason, null);
        if (shutdown) Volatile.Write(ref _shutdown, true);
        _stop.Cancel();
    }

    public void Start() => _ = Task.Run(async () =>
    {
        AttemptResult result;
        Exception? failure = null;
        // Current for the attempt's flow: uploads and the trial process (TRACEPARENT) continue it.
        var activity = AgentTelemetry.StartAttempt(Assign, Agent.Options.WorkerId);
        try
        {
            result = await RunAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
            result = ResultOf(e, _stop.IsCancellationRequested, StopStatus, StopReason, Step);
        }
        result.AttemptId = Id;
        AgentTelemetry.EndAttempt(activity, result, failure);
        Agent.Complete(this, result);
        _completion.TrySetResult();
        _stop.Dispose();
    });

    protected abstract Task<AttemptResult> RunAsync();

    /// <summary>
    /// The result of an attempt whose own code threw (before or around its trial process). A stop that interrupted it
    /// ends it as the stop asked; a coordinator that could not be reached (restarting, a lost connection mid-download
    /// of the resume checkpoint) interrupts it, so the coordinator retries it; anything else (an unreadable spec, an
    /// artifact the coordinator does not have) fails it with the cause, and the agent keeps serving.
    /// </summary>
    internal static AttemptResult ResultOf(Exception e, bool stopping, ResultStatus stopStatus, string stopReason, long step)
    {
        if (stopping && e is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
            return new AttemptResult { Status = stopStatus, Reason = stopReason, Step = step };
        if (e is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded
                or Grpc.Core.StatusCode.Aborted or Grpc.Core.StatusCode.Cancelled or Grpc.Core.StatusCode.ResourceExhausted } rpc)
            return new AttemptResult { Status = ResultStatus.Interrupted, Reason = $"coordinator unreachable ({rpc.StatusCode}): {rpc.Status.Detail}", Step = step };
        return new AttemptResult { Status = ResultStatus.Failed, Reason = e.Message, Step = step };
    }

    protected void Progress(long step, IReadOnlyDictionary<string, double> metrics)
    {
        Interlocked.Exchange(ref _step, Math.Max(Step, step));
        if (Assign.Rank != 0) return; // the coordinator keeps rank 0's curve; the others would only repeat it
        var progress = new AttemptProgress { AttemptId = Id, Step = step };
        foreach (var (name, value) in metrics)
        {
            if (double.IsFinite(value)) progress.Metrics[name] = value;
        }
        Agent.Report(progress);
    }

    /// <summary>The trial spec of the assignment, validated as the coordinator validated it.</summary>
    protected Shared.Specs.TrialSpec Spec() => TrialSpecProto.FromProto(Assign.Trial ?? new Shared.Protos.TrialSpec());
}
