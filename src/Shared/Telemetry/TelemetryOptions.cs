namespace Orchestrator.Shared.Telemetry;

/// <summary>What <see cref="ServiceDefaultsExtensions.AddServiceDefaults"/> sets up beyond the defaults.</summary>
public sealed class TelemetryOptions
{
    /// <summary>Register the Prometheus exporter (mapped by <see cref="ServiceDefaultsExtensions.MapPrometheusEndpoint"/>).</summary>
    public bool Prometheus { get; set; } = true;

    /// <summary>The worker id, as resource attribute orchestrator.worker.id; null for the coordinator.</summary>
    public string? WorkerId { get; set; }

    /// <summary>service.instance.id; default: host name and process id.</summary>
    public string? InstanceId { get; set; }
}
