using Grpc.Core;
using Orchestrator.Shared.Sweeps;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>Sweep specs and polling helpers shared by the functional tests.</summary>
internal static class Sweeps
{
    /// <summary>A random search over the seed of `sleep` trials.</summary>
    public static Proto.SweepSpec Sleep(int maxTrials, int parallel, double seconds = 0.3, int reports = 3, int workers = 1, int maxRetries = 3) =>
        SweepSpecReader.FromYaml($"""
            sweep:
              name: sleep-test
              trial:
                kind: sleep
                sleep:
                  seconds: {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}
                  reports: {reports}
              parameters:
                - name: seed
                  type: int
                  min: 1
                  max: 100000
              objective:
                metric: objective
                goal: minimize
              search:
                algorithm: random
                seed: 3
              budget:
                max_trials: {maxTrials}
                parallel_trials: {parallel}
                max_retries: {maxRetries}
              resources:
                workers: {workers}
            """).ToProto();

    public static async Task<Proto.Sweep> WaitForAsync(Proto.Jobs.JobsClient jobs, string sweepId, Func<Proto.Sweep, bool> condition, int timeoutSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var sweep = await jobs.GetSweepAsync(new Proto.GetSweepRequest { SweepId = sweepId }, deadline: DateTime.UtcNow.AddSeconds(10));
            if (condition(sweep)) return sweep;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"sweep {sweepId} did not reach the expected state; it is {sweep.Summary.State} with trials {string.Join(", ", sweep.Trials.Select(t => $"{t.TrialNumber}:{t.State}"))}");
            await Task.Delay(100);
        }
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutSeconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    public static async Task<RpcException> RejectsAsync(Func<Task> call, StatusCode code)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(code, error.StatusCode);
        return error;
    }
}
