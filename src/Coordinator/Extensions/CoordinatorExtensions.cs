using System.Net;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Api;
using Orchestrator.Coordinator.Artifacts;
using Orchestrator.Coordinator.Dashboard;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Storage;
using Orchestrator.Coordinator.Telemetry;
using Orchestrator.Shared.Telemetry;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Orchestrator.Coordinator.Extensions;

/// <summary>Registration of the coordinator's parts: options, Kestrel endpoints, the Orleans silo, gRPC services and health.</summary>
public static partial class CoordinatorExtensions
{
    /// <summary>Options, the silo and the services; reads section <see cref="CoordinatorOptions.Section"/>.</summary>
    public static WebApplicationBuilder AddCoordinator(this WebApplicationBuilder builder)
    {
        var options = ReadOptions(builder.Configuration);
        builder.Services.AddOptions<CoordinatorOptions>()
            .BindConfiguration(CoordinatorOptions.Section)
            .PostConfigure(o => ApplyEnvironmentTokens(o, builder.Configuration))
            .Validate(o => o.Workers.HeartbeatSeconds > 0 && o.Workers.LeaseSeconds > o.Workers.HeartbeatSeconds,
                "Orchestrator:Workers:LeaseSeconds must exceed HeartbeatSeconds (> 0)")
            .Validate(o => o.Limits.MaxTrials >= 1, "Orchestrator:Limits:MaxTrials must be >= 1")
            .ValidateOnStart();

        builder.AddServiceDefaults(TelemetryNames.CoordinatorService);
        builder.Services.AddSingleton<CoordinatorTelemetry>();
        builder.Services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section)
            .Validate(o => !o.Orleans.Enabled || ValidOrleansPath(o.Orleans.Path),
                "Orchestrator:Dashboard:Orleans:Path must be a path below / such as /orleans, outside /dashboard and /api")
            .Validate(o => o.Orleans.CounterIntervalSeconds >= 1 && o.Orleans.HistoryLength >= 1 && o.Orleans.ProfilerIdleSeconds >= 1,
                "Orchestrator:Dashboard:Orleans: CounterIntervalSeconds, HistoryLength and ProfilerIdleSeconds must be >= 1")
            .ValidateOnStart();
        var orleansDashboard = builder.Configuration.GetSection(DashboardOptions.Section).Get<DashboardOptions>()?.Orleans ?? new();
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureEndpoints(kestrel, options));
        builder.UseOrleans(silo =>
        {
            ConfigureSilo(silo, options);
            if (orleansDashboard.Enabled) silo.AddOrleansDashboard(orleansDashboard);
        });

        builder.Services.AddSingleton(new ArtifactStore(options.Artifacts.Path, options.Artifacts.MaxBytes));
        builder.Services.AddSingleton<AuthInterceptor>();
        builder.Services.AddSingleton<ExceptionInterceptor>();
        builder.Services.AddGrpc(grpc =>
        {
            // Auth first: an unauthenticated call never reaches the mapping of handler errors.
            grpc.Interceptors.Add<AuthInterceptor>();
            grpc.Interceptors.Add<ExceptionInterceptor>();
            grpc.MaxReceiveMessageSize = 4 << 20;
        });
        builder.Services.AddGrpcHealthChecks();
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), tags: ["live"]);
        builder.Services.AddHostedService<SweepResumer>();
        return builder;
    }

    /// <summary>The gRPC services and the health endpoints.</summary>
    public static WebApplication MapCoordinator(this WebApplication app)
    {
        app.MapGrpcService<JobsService>();
        app.MapGrpcService<WorkerGatewayService>();
        app.MapGrpcHealthChecksService();
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = check => check.Tags.Contains("live") });
        app.MapHealthChecks("/health");
        var options = app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value;
        // Beside the probes on the plain HTTP port, without a token, like them: Prometheus scrapes it.
        app.MapPrometheusEndpoint().RequireHost($"*:{options.HttpPort}");
        // Created now so that the gauges exist from the first scrape, not from the first sweep.
        app.Services.GetRequiredService<CoordinatorTelemetry>();
        // HTTP/1.1 is spoken on the HTTP port (and on the gRPC port with TLS, where ALPN lets both share it).
        app.MapDashboardData();
        app.MapDashboardPages();
        app.MapOrleansDashboard(app.Services.GetRequiredService<IOptions<DashboardOptions>>().Value.Orleans);
        if (!options.Secured)
            LogLoopbackOnly(app.Logger, options.GrpcPort, options.HttpPort);
        return app;
    }

    private static bool ValidOrleansPath(string? path) =>
        path is { Length: > 1 } && path[0] == '/' && !path.EndsWith('/') && !path.Contains("//", StringComparison.Ordinal)
        && !path.StartsWith("/dashboard", StringComparison.OrdinalIgnoreCase) && !path.StartsWith("/api", StringComparison.OrdinalIgnoreCase);

    private static CoordinatorOptions ReadOptions(IConfiguration configuration)
    {
        var options = new CoordinatorOptions();
        configuration.GetSection(CoordinatorOptions.Section).Bind(options);
        ApplyEnvironmentTokens(options, configuration);
        return options;
    }

    private static void ApplyEnvironmentTokens(CoordinatorOptions options, IConfiguration configuration)
    {
        if (string.IsNullOrEmpty(options.Auth.ApiToken)) options.Auth.ApiToken = configuration["ORCHESTRATOR_API_TOKEN"];
        if (string.IsNullOrEmpty(options.Auth.JoinToken)) options.Auth.JoinToken = configuration["ORCHESTRATOR_JOIN_TOKEN"];
    }

    private static void ConfigureEndpoints(KestrelServerOptions kestrel, CoordinatorOptions options)
    {
        // Without both tokens anyone who can reach the port could submit work or join as a worker: loopback only.
        var address = options.Secured ? IPAddress.IPv6Any : IPAddress.Loopback;
        var tls = !string.IsNullOrEmpty(options.Tls.CertificatePath);
        kestrel.Listen(address, options.GrpcPort, listen =>
        {
            if (tls)
            {
                listen.UseHttps(options.Tls.CertificatePath!, options.Tls.CertificatePassword);
                listen.Protocols = HttpProtocols.Http1AndHttp2;
            }
            else
            {
                // Plain-text gRPC needs HTTP/2 with prior knowledge, which an HTTP/1 endpoint cannot offer.
                listen.Protocols = HttpProtocols.Http2;
            }
        });
        kestrel.Listen(address, options.HttpPort, listen =>
        {
            if (tls) listen.UseHttps(options.Tls.CertificatePath!, options.Tls.CertificatePassword);
            listen.Protocols = HttpProtocols.Http1;
        });
    }

    private static void ConfigureSilo(ISiloBuilder silo, CoordinatorOptions options)
    {
        var cluster = options.Cluster;
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        if (!string.IsNullOrEmpty(cluster.Redis))
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(cluster.Redis));
            silo.Services.AddRedisGrainStorage(StorageNames.Sweeps, o => o.ConfigurationOptions = ConfigurationOptions.Parse(cluster.Redis));
            var redis = cluster.Redis;
            var prefix = $"orchestrator/{cluster.ServiceId}/";
            silo.Services.AddSingleton<ISweepStore>(_ => new RedisSweepStore(ConnectionMultiplexer.Connect(ConfigurationOptions.Parse(redis)), prefix, ownsConnection: true));
            silo.ConfigureEndpoints(cluster.SiloPort, cluster.GatewayPort);
        }
        else
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, null, cluster.ServiceId, cluster.ClusterId);
            var path = options.Storage.Path;
            silo.Services.AddGrainStorage(StorageNames.Sweeps, (services, _) => new SqliteGrainStorage(path, services.GetRequiredService<Serializer>()));
            silo.Services.AddSingleton<ISweepStore>(_ => new SqliteSweepStore(path));
        }
        if (cluster.Kubernetes) silo.UseKubernetesHosting();
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "No API token and join token configured (Orchestrator:Auth or ORCHESTRATOR_API_TOKEN / ORCHESTRATOR_JOIN_TOKEN): listening on loopback only, gRPC port {GrpcPort}, HTTP port {HttpPort}")]
    private static partial void LogLoopbackOnly(ILogger logger, int grpcPort, int httpPort);
}
