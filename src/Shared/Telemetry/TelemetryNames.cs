namespace Orchestrator.Shared.Telemetry;

/// <summary>ActivitySource and Meter names, one per component; dashboards, collectors and tests subscribe by these.</summary>
public static class TelemetryNames
{
    /// <summary>The coordinator: submit, sweep, trial and attempt spans; scheduling metrics.</summary>
    public const string Coordinator = "Orchestrator.Coordinator";

    /// <summary>The worker agent: attempt spans continuing the coordinator's trace, artifact uploads.</summary>
    public const string WorkerAgent = "Orchestrator.Worker.Agent";

    /// <summary>The trial process (`orchestrator train`): epoch, evaluation and checkpoint spans; trainer metrics.</summary>
    public const string Training = "Orchestrator.Training";

    /// <summary>Collectives: sampled all-reduce spans, all-reduce duration and bytes.</summary>
    public const string Collectives = "Orchestrator.Collectives";

    /// <summary>Every source and meter of this codebase, for registration.</summary>
    public static readonly IReadOnlyList<string> All = [Coordinator, WorkerAgent, Training, Collectives];

    /// <summary>The service.name of each process kind (resource attribute, OTEL_SERVICE_NAME overrides).</summary>
    public const string CoordinatorService = "orchestrator-coordinator";
    public const string WorkerService = "orchestrator-worker";
    public const string TrainService = "orchestrator-train";
}
