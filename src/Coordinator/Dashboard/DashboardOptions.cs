namespace Orchestrator.Coordinator.Dashboard;

/// <summary>Section <c>Orchestrator:Dashboard</c>.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Orchestrator:Dashboard";

    /// <summary>A trace UI URL with <c>{traceId}</c> (e.g. Jaeger: <c>http://jaeger:16686/trace/{traceId}</c>); unset: no links.</summary>
    public string? TraceUrl { get; set; }
}
