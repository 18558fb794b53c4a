namespace Orchestrator.Shared.Telemetry;

/// <summary>One exported metric: its OpenTelemetry name, unit and instrument, and the name Prometheus shows.</summary>
/// <param name="Instrument">counter, updowncounter, histogram or gauge (observable or synchronous).</param>
/// <param name="Prometheus">The base name after OTel → Prometheus translation (histograms add _bucket/_sum/_count).</param>
public sealed record MetricInfo(string Name, string Unit, string Instrument, string Prometheus, string Meter, string Description);
