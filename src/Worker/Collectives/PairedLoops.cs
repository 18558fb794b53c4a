using System.Runtime.ExceptionServices;

namespace Orchestrator.Worker.Collectives;

/// <summary>Runs a send loop and a receive loop together: the first to fail stops the other and its error is the one reported.</summary>
internal static class PairedLoops
{
    public static async Task WhenBothAsync(Task first, Task second, CancellationTokenSource stop)
    {
        Task done = await Task.WhenAny(first, second).ConfigureAwait(false);
        if (done.Status == TaskStatus.RanToCompletion)
        {
            await (done == first ? second : first).ConfigureAwait(false);
            return;
        }
        // The survivor would otherwise wait for data its partner will never produce or consume.
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await (done == first ? second : first).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Its failure is a consequence of the cancellation above; the first failure is the cause.
        }
        if (done.Exception is { } error)
        {
            ExceptionDispatchInfo.Throw(error.InnerException ?? error);
        }
        await done.ConfigureAwait(false);
    }
}
