using Orchestrator.Coordinator.Grains;

namespace Orchestrator.Coordinator.Extensions;

/// <summary>After the silo starts, activates every sweep so that unfinished ones resume without waiting for a client.</summary>
public sealed partial class SweepResumer(IGrainFactory grains, IHostApplicationLifetime lifetime, ILogger<SweepResumer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
        var ids = await grains.GetGrain<ISweepRegistryGrain>(0).ListAsync();
        foreach (var id in ids)
        {
            try
            {
                await grains.GetGrain<ISweepGrain>(id).ResumeAsync();
            }
            catch (Exception e)
            {
                LogResumeFailed(logger, e, id);
            }
        }
        LogResumed(logger, ids.Count);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Activated {Count} sweeps after start")]
    private static partial void LogResumed(ILogger logger, int count);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Sweep {SweepId} could not be resumed")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception, string sweepId);
}
