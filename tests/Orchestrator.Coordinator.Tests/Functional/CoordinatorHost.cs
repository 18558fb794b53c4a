using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orchestrator.Coordinator.Extensions;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>
/// The real coordinator in this process: Kestrel on loopback ports, an Orleans silo, SQLite storage in a temporary
/// directory. A second host on the same directory and gRPC port is "the coordinator after a restart".
/// </summary>
public sealed class CoordinatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];

    private CoordinatorHost(WebApplication app, string directory, int grpcPort, int httpPort, string? apiToken)
    {
        _app = app;
        Directory = directory;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
        ApiToken = apiToken;
    }

    public string Directory { get; }
    public int GrpcPort { get; }
    public int HttpPort { get; }
    public string? ApiToken { get; }
    /// <summary>The coordinator's services, e.g. to enumerate its HTTP endpoints.</summary>
    public IServiceProvider Services => _app.Services;
    public string Address => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>Worker timing used by every functional test: short, so lease loss shows within seconds.</summary>
    public const double HeartbeatSeconds = 0.25;
    public const double LeaseSeconds = 1.5;

    public static async Task<CoordinatorHost> StartAsync(string? directory = null, int? grpcPort = null,
        string? apiToken = null, string? joinToken = null, IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        directory ??= System.IO.Directory.CreateTempSubdirectory("coordinator-").FullName;
        var port = grpcPort ?? FreePort();
        var httpPort = FreePort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = directory, Args = [] });
        var config = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
            ["Orchestrator:GrpcPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:HttpPort"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:Storage:Path"] = Path.Combine(directory, "coordinator.db"),
            ["Orchestrator:Artifacts:Path"] = Path.Combine(directory, "artifacts"),
            ["Orchestrator:Cluster:SiloPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:Cluster:GatewayPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:Workers:HeartbeatSeconds"] = HeartbeatSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:Workers:LeaseSeconds"] = LeaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orchestrator:Auth:ApiToken"] = apiToken,
            ["Orchestrator:Auth:JoinToken"] = joinToken,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) config[key] = value;
        builder.Configuration.AddInMemoryCollection(config);
        builder.AddCoordinator();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapCoordinator();
        await app.StartAsync();
        return new CoordinatorHost(app, directory, port, httpPort, apiToken);
    }

    /// <summary>A Jobs client; with the host's API token unless <paramref name="token"/> says otherwise ("" sends none).</summary>
    public Proto.Jobs.JobsClient Jobs(string? token = null)
    {
        token ??= ApiToken;
        var channel = GrpcChannel.ForAddress(Address);
        _channels.Add(channel);
        var invoker = string.IsNullOrEmpty(token)
            ? channel.CreateCallInvoker()
            : channel.CreateCallInvoker().Intercept(metadata =>
            {
                metadata.Add("authorization", $"Bearer {token}");
                return metadata;
            });
        return new Proto.Jobs.JobsClient(invoker);
    }

    public async Task StopAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels) channel.Dispose();
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
            // Already stopped by the test.
        }
    }

    public static int FreePort() => Orchestrator.Shared.Net.LoopbackPorts.Free();
}
