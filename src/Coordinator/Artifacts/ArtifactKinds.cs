namespace Orchestrator.Coordinator.Artifacts;

/// <summary>Kinds of artifacts a worker uploads.</summary>
public static class ArtifactKinds
{
    /// <summary>Resumable training state: the newest by step is what a retried attempt resumes from.</summary>
    public const string Checkpoint = "checkpoint";
    public const string Samples = "samples";
    public const string Metrics = "metrics";
    public const string Other = "other";
    public static readonly string[] All = [Checkpoint, Samples, Metrics, Other];
}
