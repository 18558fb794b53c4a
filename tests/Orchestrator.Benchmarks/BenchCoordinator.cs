using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Shared.Net;

namespace Orchestrator.Benchmarks;

/// <summary>A real coordinator (Kestrel, Orleans silo, SQLite) inside the benchmark process, on free loopback ports.</summary>
internal static class BenchCoordinator
{
    /// <summary>Starts it with its state and artifacts under <paramref name="data"/>; the app and its gRPC address.</summary>
    public static async Task<(WebApplication App, Uri Address)> StartAsync(string data)
    {
        int grpcPort = LoopbackPorts.Free();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orchestrator:GrpcPort"] = $"{grpcPort}",
            ["Orchestrator:HttpPort"] = $"{LoopbackPorts.Free()}",
            ["Orchestrator:Storage:Path"] = Path.Combine(data, "coordinator.db"),
            ["Orchestrator:Artifacts:Path"] = Path.Combine(data, "artifacts"),
            ["Orchestrator:Cluster:SiloPort"] = $"{LoopbackPorts.Free()}",
            ["Orchestrator:Cluster:GatewayPort"] = $"{LoopbackPorts.Free()}",
        });
        builder.Logging.ClearProviders();
        builder.AddCoordinator();
        var app = builder.Build();
        app.MapCoordinator();
        await app.StartAsync();
        return (app, new Uri($"http://127.0.0.1:{grpcPort}"));
    }
}
