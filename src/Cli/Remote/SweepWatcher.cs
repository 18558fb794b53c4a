using Grpc.Core;
using Orchestrator.Shared.Protos;
using Spectre.Console;

namespace Orchestrator.Cli.Remote;

/// <summary>Follows a sweep's events until it finishes: a live table on a terminal, lines otherwise, JSON for scripts.</summary>
public static class SweepWatcher
{
    public static async Task<SweepView> WatchAsync(JobsConnection connection, string sweepId, IAnsiConsole console, bool json, CancellationToken cancellationToken)
    {
        var sweep = await connection.Client.GetSweepAsync(new GetSweepRequest { SweepId = sweepId }, connection.Headers, JobsConnection.Deadline, cancellationToken);
        var view = new SweepView(sweep);
        if (view.Finished) return view;
        using var call = connection.Client.WatchSweep(new WatchSweepRequest { SweepId = sweepId }, connection.Headers, cancellationToken: cancellationToken);

        if (json)
        {
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                Console.WriteLine(Formats.Json.Format(call.ResponseStream.Current));
                view.Apply(call.ResponseStream.Current);
                if (view.Finished) break;
            }
            return view;
        }

        if (!console.Profile.Capabilities.Interactive)
        {
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                if (view.Apply(call.ResponseStream.Current) is { } changed)
                {
                    var figures = view.FigureText(changed);
                    console.WriteLine($"trial {changed.TrialNumber}: {Formats.State(changed.State)}" +
                        (changed.HasObjective ? $" objective {Formats.Number(changed.Objective)}" : "") +
                        (figures.Length > 0 ? $" step {changed.Step} {figures}" : "") +
                        (changed.Reason.Length > 0 ? $" ({changed.Reason})" : ""));
                }
                if (view.Finished) break;
            }
            return view;
        }

        await console.Live(view.Render()).AutoClear(false).StartAsync(async live =>
        {
            var lastDraw = DateTime.MinValue;
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                view.Apply(call.ResponseStream.Current);
                // Progress events can come by the hundred per second; a redraw every 200 ms is enough to watch.
                if (view.Finished || DateTime.UtcNow - lastDraw > TimeSpan.FromMilliseconds(200))
                {
                    live.UpdateTarget(view.Render());
                    live.Refresh();
                    lastDraw = DateTime.UtcNow;
                }
                if (view.Finished) break;
            }
        });
        return view;
    }
}
