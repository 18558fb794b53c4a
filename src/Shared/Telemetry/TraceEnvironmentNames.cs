namespace Orchestrator.Shared.Telemetry;

/// <summary>Environment variables a worker agent sets for its trial processes.</summary>
public static class TraceEnvironmentNames
{
    /// <summary>W3C traceparent of the worker's attempt span: the trial process's spans are its children.</summary>
    public const string TraceParent = "TRACEPARENT";
    public const string SweepId = "ORCHESTRATOR_SWEEP_ID";
    public const string TrialNumber = "ORCHESTRATOR_TRIAL_NUMBER";
    public const string WorkerId = "ORCHESTRATOR_WORKER_ID";
}
