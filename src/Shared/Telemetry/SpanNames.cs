namespace Orchestrator.Shared.Telemetry;

/// <summary>Span names: low-cardinality operation names, the ids go in attributes.</summary>
public static class SpanNames
{
    public const string Submit = "orchestrator.submit";
    public const string Sweep = "orchestrator.sweep";
    public const string Trial = "orchestrator.trial";
    public const string Attempt = "orchestrator.attempt";
    public const string Dispatch = "orchestrator.dispatch";
    public const string WorkerAttempt = "orchestrator.worker.attempt";
    public const string ArtifactUpload = "orchestrator.artifact.upload";
    public const string Train = "orchestrator.train";
    public const string Epoch = "orchestrator.epoch";
    public const string Evaluation = "orchestrator.evaluation";
    public const string Checkpoint = "orchestrator.checkpoint";
    public const string AllReduce = "orchestrator.allreduce";
}
