using System.Diagnostics;
using Grpc.Net.Client;
using Orchestrator.Shared.Net;
using Orchestrator.Shared.Protos;

using Orchestrator.Tests.Common;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>Cluster mode: two coordinator silos forming one Orleans cluster over a real redis-server.</summary>
public sealed class RedisClusterTests
{
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
