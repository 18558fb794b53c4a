namespace Orchestrator.Shared.Telemetry;

/// <summary>
/// Attribute (tag) keys. Metric attributes stay bounded: a sweep id and trial number (bounded by max_trials) at
/// most, never a step, epoch or attempt number on a metric (those go on spans).
/// </summary>
public static class AttributeNames
{
    public const string SweepId = "orchestrator.sweep.id";
    public const string SweepName = "orchestrator.sweep.name";
    public const string TrialNumber = "orchestrator.trial.number";
    public const string TrialId = "orchestrator.trial.id";
    public const string TrialState = "orchestrator.trial.state";
    public const string SweepState = "orchestrator.sweep.state";
    public const string AttemptNumber = "orchestrator.attempt.number";
    public const string AttemptResult = "orchestrator.attempt.result";
    public const string WorkerId = "orchestrator.worker.id";
    public const string SlotState = "orchestrator.slot.state";
    public const string Network = "orchestrator.gan.network";
    public const string EvalMetric = "orchestrator.eval.metric";
    public const string Epoch = "orchestrator.epoch";
    public const string Step = "orchestrator.step";
    public const string Rank = "orchestrator.rank";
    public const string WorldSize = "orchestrator.world_size";
    public const string ArtifactKind = "orchestrator.artifact.kind";
    public const string Device = "orchestrator.device";

    /// <summary>Values of <see cref="SlotState"/>.</summary>
    public const string SlotFree = "free";
    public const string SlotBusy = "busy";

    /// <summary>Values of <see cref="Network"/>.</summary>
    public const string Discriminator = "discriminator";
    public const string Generator = "generator";
}
