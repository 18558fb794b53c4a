using System.Diagnostics;
using Grpc.Net.Client;
using Orchestrator.Shared.Net;
using Orchestrator.Shared.Protos;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>Cluster mode: two coordinator silos forming one Orleans cluster over a real redis-server.</summary>
public sealed class RedisClusterTests
{
    private sealed class RedisServer : IDisposable
    {
        private readonly Process _process;
        private readonly string _directory = Directory.CreateTempSubdirectory("orchestrator-redis-").FullName;

        public RedisServer()
        {
            Port = LoopbackPorts.Free();
            // redis-server is a test dependency: scripts/test.sh installs Debian's package when it is missing.
            var info = new ProcessStartInfo("redis-server", ["--port", $"{Port}", "--bind", "127.0.0.1", "--dir", _directory, "--save", "", "--appendonly", "no"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            _process = Process.Start(info)!;
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Port { get; }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Two_silos_on_redis_run_a_sweep_submitted_to_one_and_served_by_workers_of_the_other()
    {
        using var redis = new RedisServer();
        await using var cluster = new LocalCluster(redis: $"127.0.0.1:{redis.Port}");
        int otherGrpcPort = LoopbackPorts.Free();
        cluster.StartCoordinator();
        cluster.StartCoordinator(grpcPort: otherGrpcPort);
        using var otherChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{otherGrpcPort}");
        var other = new Jobs.JobsClient(otherChannel);
        await cluster.WaitForCoordinatorAsync();
        await cluster.WaitForCoordinatorAsync(other);

        // The workers know only the first silo; the sweep is submitted to and watched through the second.
        cluster.StartWorker("w1", slots: 2);
        cluster.StartWorker("w2", slots: 2);
        var sweepId = await cluster.SubmitAsync("""
            sweep:
              name: e2e-redis
              trial:
                kind: sleep
                sleep: { seconds: 0.5, reports: 2 }
              parameters:
                - { name: seed, type: int, min: 1, max: 6, grid_points: 6 }
              search: { algorithm: grid }
              budget: { max_trials: 6, parallel_trials: 4 }
            """, other);

        var done = await cluster.WaitForAsync(sweepId, s => s.Summary.State != SweepState.Running, other);
        Assert.True(done.Summary.State == SweepState.Completed, $"{done}\n{cluster.Logs()}");
        Assert.Equal(6, done.Trials.Count(t => t.State == TrialState.Completed));
        // Both silos see the same sweep (one grain, found through the Redis membership).
        var viaFirst = await cluster.Jobs.GetSweepAsync(new GetSweepRequest { SweepId = sweepId });
        Assert.Equal(SweepState.Completed, viaFirst.Summary.State);
    }
}
