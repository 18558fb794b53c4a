namespace Orchestrator.Shared.Telemetry;

/// <summary>
/// Every metric this codebase exports, with its unit (UCUM, as OpenTelemetry's semantic conventions use: s, By,
/// {trial}). Prometheus names follow the exporter's translation: dots to underscores, a unit suffix (_seconds,
/// _bytes; curly-brace units add none), _total on counters. docs/telemetry.md lists them for dashboards.
/// </summary>
public static class MetricNames
{
    // Coordinator.
    public const string Trials = "orchestrator.trials";
    public const string Sweeps = "orchestrator.sweeps";
    public const string QueueLength = "orchestrator.queue.length";
    public const string WorkerSlots = "orchestrator.worker.slots";
    public const string Workers = "orchestrator.workers";
    public const string DispatchDuration = "orchestrator.dispatch.duration";
    public const string Attempts = "orchestrator.attempts";
    public const string SweepWriteDuration = "orchestrator.sweep.write.duration";

    // Worker agent.
    public const string AgentAttemptsActive = "orchestrator.worker.attempts.active";
    public const string ArtifactUploadDuration = "orchestrator.artifact.upload.duration";

    // Per-trial figures: recorded by the worker agent from its trial processes' event streams (rank 0).
    public const string TrainSamples = "orchestrator.train.samples";
    public const string TrainSamplesPerSecond = "orchestrator.train.throughput";
    public const string TrainStepDuration = "orchestrator.train.step.duration";
    public const string TrainLoss = "orchestrator.train.loss";
    public const string TrainStep = "orchestrator.train.step";
    public const string EvalValue = "orchestrator.eval.value";

    // Trial process (`orchestrator train`, OTLP only: it lives too short for scrapes).
    public const string EvalDuration = "orchestrator.eval.duration";
    public const string CheckpointSize = "orchestrator.checkpoint.size";
    public const string CheckpointDuration = "orchestrator.checkpoint.duration";

    // Collectives.
    public const string AllReduceDuration = "orchestrator.allreduce.duration";
    public const string AllReduceBytes = "orchestrator.allreduce.bytes";

    /// <summary>Units (UCUM; curly braces are annotations Prometheus drops).</summary>
    public static class Units
    {
        public const string Seconds = "s";
        public const string Bytes = "By";
        public const string Trial = "{trial}";
        public const string Sweep = "{sweep}";
        public const string Slot = "{slot}";
        public const string Worker = "{worker}";
        public const string Request = "{request}";
        public const string Attempt = "{attempt}";
        public const string Sample = "{sample}";
        public const string SamplesPerSecond = "{sample}/s";
        public const string Step = "{step}";
        public const string Loss = "{loss}";
        public const string Value = "{value}";
    }

    /// <summary>The catalogue: what docs/telemetry.md documents and the tests check against /metrics.</summary>
    public static readonly IReadOnlyList<MetricInfo> All =
    [
        new(Trials, Units.Trial, "gauge", "orchestrator_trials", TelemetryNames.Coordinator,
            "Trials of live sweeps by state (orchestrator.trial.state)."),
        new(Sweeps, Units.Sweep, "gauge", "orchestrator_sweeps", TelemetryNames.Coordinator,
            "Sweeps known to this silo by state (orchestrator.sweep.state)."),
        new(QueueLength, Units.Request, "gauge", "orchestrator_queue_length", TelemetryNames.Coordinator,
            "Trial placement requests waiting for slots."),
        new(WorkerSlots, Units.Slot, "gauge", "orchestrator_worker_slots", TelemetryNames.Coordinator,
            "Worker slots by state (orchestrator.slot.state = free | busy)."),
        new(Workers, Units.Worker, "gauge", "orchestrator_workers", TelemetryNames.Coordinator,
            "Workers holding a live lease."),
        new(DispatchDuration, Units.Seconds, "histogram", "orchestrator_dispatch_duration_seconds", TelemetryNames.Coordinator,
            "From a trial's placement request to its assignment being handed to a worker."),
        new(Attempts, Units.Attempt, "counter", "orchestrator_attempts_total", TelemetryNames.Coordinator,
            "Attempts that ended, by result (orchestrator.attempt.result)."),
        new(SweepWriteDuration, Units.Seconds, "histogram", "orchestrator_sweep_write_duration_seconds", TelemetryNames.Coordinator,
            "One persisted write of a sweep's state (its header and the trials that changed), SQLite or Redis."),
        new(AgentAttemptsActive, Units.Attempt, "updowncounter", "orchestrator_worker_attempts_active", TelemetryNames.WorkerAgent,
            "Attempts this worker is running."),
        new(ArtifactUploadDuration, Units.Seconds, "histogram", "orchestrator_artifact_upload_duration_seconds", TelemetryNames.WorkerAgent,
            "Artifact uploads to the coordinator (orchestrator.artifact.kind)."),
        new(TrainSamples, Units.Sample, "counter", "orchestrator_train_samples_total", TelemetryNames.WorkerAgent,
            "Real samples the discriminator has seen; rate() gives samples/s."),
        new(TrainSamplesPerSecond, Units.SamplesPerSecond, "gauge", "orchestrator_train_throughput_per_second", TelemetryNames.WorkerAgent,
            "Latest samples/s of a trial (orchestrator.sweep.id, orchestrator.trial.number)."),
        new(TrainStepDuration, Units.Seconds, "histogram", "orchestrator_train_step_duration_seconds", TelemetryNames.Training,
            "Wall time of one training step (n_critic D updates and one G update)."),
        new(TrainLoss, Units.Loss, "gauge", "orchestrator_train_loss", TelemetryNames.WorkerAgent,
            "Latest D and G loss of a trial (orchestrator.gan.network = discriminator | generator; sweep id, trial number)."),
        new(TrainStep, Units.Step, "gauge", "orchestrator_train_step", TelemetryNames.WorkerAgent,
            "Latest step of a trial (sweep id, trial number)."),
        new(EvalValue, Units.Value, "gauge", "orchestrator_eval_value", TelemetryNames.WorkerAgent,
            "Latest evaluation figures of a trial (orchestrator.eval.metric; sweep id, trial number)."),
        new(EvalDuration, Units.Seconds, "histogram", "orchestrator_eval_duration_seconds", TelemetryNames.Training,
            "Wall time of one evaluation."),
        new(CheckpointSize, Units.Bytes, "histogram", "orchestrator_checkpoint_size_bytes", TelemetryNames.Training,
            "Size of each checkpoint written."),
        new(CheckpointDuration, Units.Seconds, "histogram", "orchestrator_checkpoint_duration_seconds", TelemetryNames.Training,
            "Wall time of writing one checkpoint."),
        new(AllReduceDuration, Units.Seconds, "histogram", "orchestrator_allreduce_duration_seconds", TelemetryNames.Collectives,
            "Gradient all-reduce time per step in a data-parallel group."),
        new(AllReduceBytes, Units.Bytes, "counter", "orchestrator_allreduce_bytes_total", TelemetryNames.Collectives,
            "Bytes of gradients all-reduced."),
    ];
}
