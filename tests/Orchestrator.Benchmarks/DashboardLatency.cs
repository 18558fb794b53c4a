using Orchestrator.Shared.Net;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Shared.Sweeps;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Benchmarks;

/// <summary>
/// Latency of the dashboard's sweep data endpoint (GET /api/dashboard/sweeps/{id}) on a real coordinator in this
/// process with one sweep of 1,000 trials (queued: no worker is connected), sequential requests after warm-up.
/// </summary>
public static class DashboardLatency
{
    public static IReadOnlyDictionary<string, object> Measure(string[] args)
    {
        int trials = Options.Int(args, "--dashboard-trials", 1000);
        int requests = Options.Int(args, "--dashboard-requests", 200);
        var directory = Directory.CreateTempSubdirectory("dashboard-bench-").FullName;
        int grpc = LoopbackPorts.Free(), http = LoopbackPorts.Free();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = directory, Args = [] });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Orchestrator:GrpcPort"] = grpc.ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:HttpPort"] = http.ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:Storage:Path"] = Path.Combine(directory, "coordinator.db"),
            ["Orchestrator:Artifacts:Path"] = Path.Combine(directory, "artifacts"),
            ["Orchestrator:Cluster:SiloPort"] = LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:Cluster:GatewayPort"] = LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            ["Orchestrator:Limits:ClusterWorkers"] = "1",
        });
        builder.AddCoordinator();
        var app = builder.Build();
        app.MapCoordinator();
        app.StartAsync().GetAwaiter().GetResult();
        try
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpc}");
            var jobs = new Proto.Jobs.JobsClient(channel);
            var spec = SweepSpecReader.FromYaml($"""
                sweep:
                  name: dashboard-bench
                  trial:
                    kind: sleep
                    sleep:
                      seconds: 1
                  parameters:
                    - name: seed
                      type: int
                      min: 1
                      max: 1000000
                  objective:
                    metric: objective
                    goal: minimize
                  search:
                    algorithm: random
                    seed: 1
                  budget:
                    max_trials: {trials}
                    parallel_trials: {trials}
                """).ToProto();
            var sweepId = jobs.SubmitSweep(new Proto.SubmitSweepRequest { RequestId = "bench", Spec = spec }).SweepId;
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
            var url = $"/api/dashboard/sweeps/{sweepId}";
            long bytes = 0;
            for (int i = 0; i < 20; i++) bytes = client.GetByteArrayAsync(url).GetAwaiter().GetResult().Length;
            var times = new double[requests];
            for (int i = 0; i < requests; i++)
            {
                var sw = Stopwatch.StartNew();
                client.GetByteArrayAsync(url).GetAwaiter().GetResult();
                times[i] = sw.Elapsed.TotalMilliseconds;
            }
            Array.Sort(times);
            double p50 = times[requests / 2], p95 = times[(int)Math.Ceiling(requests * 0.95) - 1];
            Console.WriteLine($"  dashboard: sweep of {trials} trials, {bytes} bytes per response, p50 {p50:F2} ms, p95 {p95:F2} ms over {requests} requests");
            return new Dictionary<string, object>
            {
                ["dashboard_trials"] = trials,
                ["dashboard_p50_ms"] = Math.Round(p50, 2),
                ["dashboard_p95_ms"] = Math.Round(p95, 2),
                ["dashboard_response_bytes"] = bytes,
            };
        }
        finally
        {
            app.StopAsync().GetAwaiter().GetResult();
        }
    }

}
