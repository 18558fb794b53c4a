using Microsoft.Extensions.Configuration;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Orchestrator.Shared.Telemetry;

/// <summary>
/// OpenTelemetry for a process without a host (a trial process): this codebase's sources and meters exported over
/// OTLP, configured by the standard OTEL_* variables. Nothing is set up when no OTLP endpoint is configured.
/// </summary>
public sealed class ProcessTelemetry : IDisposable
{
    private readonly TracerProvider _tracing;
    private readonly MeterProvider _metrics;

    private ProcessTelemetry(TracerProvider tracing, MeterProvider metrics)
    {
        _tracing = tracing;
        _metrics = metrics;
    }

    /// <summary>Providers exporting over OTLP, or null when OTEL_EXPORTER_OTLP_ENDPOINT is unset.</summary>
    public static ProcessTelemetry? StartFromEnvironment(string serviceName, string? workerId)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        return ServiceDefaultsExtensions.OtlpConfigured(configuration) ? Start(serviceName, workerId, configuration, otlp: true) : null;
    }

    /// <summary>Providers with OTLP export (when <paramref name="otlp"/>) and any extra exporters the callers add.</summary>
    public static ProcessTelemetry Start(string serviceName, string? workerId, IConfiguration? configuration, bool otlp,
        Action<TracerProviderBuilder>? tracing = null, Action<MeterProviderBuilder>? metrics = null)
    {
        var options = new TelemetryOptions { WorkerId = workerId, Prometheus = false };
        var tracer = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => ServiceDefaultsExtensions.ConfigureResource(r, configuration, serviceName, options))
            .AddSource([.. TelemetryNames.All]);
        var meter = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => ServiceDefaultsExtensions.ConfigureResource(r, configuration, serviceName, options))
            .AddMeter([.. TelemetryNames.All])
            .AddRuntimeInstrumentation();
        if (otlp)
        {
            tracer.AddOtlpExporter();
            meter.AddOtlpExporter();
        }
        tracing?.Invoke(tracer);
        metrics?.Invoke(meter);
        return new ProcessTelemetry(tracer.Build()!, meter.Build()!);
    }

    /// <summary>Flushes what is buffered (the process is about to exit) and stops.</summary>
    public void Dispose()
    {
        _tracing.ForceFlush(5000);
        _metrics.ForceFlush(5000);
        _tracing.Dispose();
        _metrics.Dispose();
    }
}
