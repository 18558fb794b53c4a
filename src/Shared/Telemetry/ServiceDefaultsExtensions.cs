using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Orchestrator.Shared.Telemetry;

/// <summary>
/// The one OpenTelemetry setup of every hosted process: traces, metrics and logs with this codebase's sources and
/// meters, ASP.NET Core, gRPC, HttpClient and runtime instrumentation, OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
/// (the standard OTEL_* variables configure it), and a Prometheus scrape endpoint.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Path of the Prometheus scrape endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Meters of the libraries underneath: gRPC server and client, Orleans.</summary>
    public static readonly IReadOnlyList<string> LibraryMeters = ["Grpc.AspNetCore.Server", "Grpc.Net.Client", "Microsoft.Orleans"];

    /// <summary>Adds OpenTelemetry to a host; <paramref name="serviceName"/> unless OTEL_SERVICE_NAME says otherwise.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder, string serviceName, Action<TelemetryOptions>? configure = null)
        where TBuilder : IHostApplicationBuilder
    {
        var options = new TelemetryOptions();
        configure?.Invoke(options);
        var configuration = builder.Configuration;

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => ConfigureResource(resource, configuration, serviceName, options))
            .WithTracing(tracing => tracing
                .AddSource([.. TelemetryNames.All])
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsInfrastructurePath(context.Request.Path))
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation())
            .WithMetrics(metrics =>
            {
                metrics.AddMeter([.. TelemetryNames.All])
                    .AddMeter([.. LibraryMeters])
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation();
                if (options.Prometheus) metrics.AddPrometheusExporter();
            });
        if (OtlpConfigured(configuration)) telemetry.UseOtlpExporter();
        return builder;
    }

    /// <summary>Maps <see cref="MetricsPath"/> when the Prometheus exporter was registered.</summary>
    public static IEndpointConventionBuilder MapPrometheusEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);

    /// <summary>Whether the standard OTEL_* variables (or configuration keys) name an OTLP endpoint.</summary>
    public static bool OtlpConfigured(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary>service.name, service.version, service.instance.id and, on workers, orchestrator.worker.id.</summary>
    public static void ConfigureResource(ResourceBuilder resource, IConfiguration? configuration, string serviceName, TelemetryOptions options)
    {
        var name = configuration?["OTEL_SERVICE_NAME"] is { Length: > 0 } configured ? configured : serviceName;
        resource.AddService(name, serviceVersion: Version, serviceInstanceId: options.InstanceId ?? $"{Environment.MachineName}-{Environment.ProcessId}");
        if (options.WorkerId is { } worker)
            resource.AddAttributes([new KeyValuePair<string, object>(AttributeNames.WorkerId, worker)]);
    }

    /// <summary>This build's version (the informational version without its commit suffix).</summary>
    public static string Version { get; } =
        (typeof(ServiceDefaultsExtensions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    // Probes and scrapes every few seconds would drown the traces that matter.
    private static bool IsInfrastructurePath(PathString path) =>
        path.StartsWithSegments(MetricsPath) || path.StartsWithSegments("/alive") || path.StartsWithSegments("/health");
}
