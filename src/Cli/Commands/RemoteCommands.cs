using System.CommandLine;
using Grpc.Core;
using Orchestrator.Cli.Remote;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;
using Spectre.Console;

namespace Orchestrator.Cli.Commands;

/// <summary>The Jobs API from the terminal: submit, list, watch, cancel, artifacts get.</summary>
public static class RemoteCommands
{
    public static IEnumerable<Command> Create() => [Submit(), List(), Watch(), Cancel(), Artifacts()];

    private static Command Submit()
    {
        var file = new Argument<FileInfo>("file") { Description = "Sweep YAML (a `sweep:` block)" };
        var coordinator = JobsConnection.CoordinatorOption();
        var output = JobsConnection.OutputOption();
        var watch = new Option<bool>("--watch") { Description = "Follow the sweep until it finishes" };
        var requestId = new Option<string?>("--request-id") { Description = "Makes a repeated submit return the first one's sweep (default: new)" };
        var command = new Command("submit", "Submit a sweep to a coordinator") { file, coordinator, output, watch, requestId };
        command.SetAction((parse, ct) => Guard(parse.GetValue(coordinator)!, async connection =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists) return Usage($"{path.FullName}: file not found");
            Shared.Sweeps.SweepSpec spec;
            try
            {
                spec = SweepSpecReader.FromYaml(await File.ReadAllTextAsync(path.FullName, ct), path.Name);
            }
            catch (SpecException e)
            {
                return Usage($"{path.FullName}: {e.Message}");
            }
            var response = await connection.Client.SubmitSweepAsync(new SubmitSweepRequest
            {
                RequestId = parse.GetValue(requestId) ?? Guid.NewGuid().ToString("N"),
                Spec = spec.ToProto(),
            }, connection.Headers, JobsConnection.Deadline, ct);
            bool json = parse.GetValue(output) == "json";
            if (json) Console.WriteLine(Formats.Json.Format(response));
            else AnsiConsole.MarkupLine($"sweep [bold]{Markup.Escape(response.SweepId)}[/] {(response.Created ? "submitted" : "was already submitted with this request id")}");
            if (!parse.GetValue(watch)) return ExitCodes.Ok;
            var view = await SweepWatcher.WatchAsync(connection, response.SweepId, AnsiConsole.Console, json, ct);
            if (!json) PrintFinal(AnsiConsole.Console, view);
            return view.Summary.State == SweepState.Completed ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    private static Command List()
    {
        var coordinator = JobsConnection.CoordinatorOption();
        var output = JobsConnection.OutputOption();
        var command = new Command("list", "List the coordinator's sweeps") { coordinator, output };
        command.SetAction((parse, ct) => Guard(parse.GetValue(coordinator)!, async connection =>
        {
            var response = await connection.Client.ListSweepsAsync(new ListSweepsRequest(), connection.Headers, JobsConnection.Deadline, ct);
            if (parse.GetValue(output) == "json")
            {
                Console.WriteLine(Formats.Json.Format(response));
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("sweep", "name", "state", "trials", "best");
            foreach (var s in response.Sweeps)
            {
                table.AddRow(Markup.Escape(s.SweepId), Markup.Escape(s.Name), Formats.State(s.State),
                    $"{s.TrialsCompleted}/{s.MaxTrials} done, {s.TrialsRunning} running, {s.TrialsFailed} failed",
                    s.HasBestTrial ? $"#{s.BestTrial} {Formats.Number(s.HasBestObjective ? s.BestObjective : null)}" : "-");
            }
            AnsiConsole.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Watch()
    {
        var id = new Argument<string>("sweep") { Description = "Sweep id" };
        var coordinator = JobsConnection.CoordinatorOption();
        var output = JobsConnection.OutputOption();
        var command = new Command("watch", "Follow a sweep live: per-trial progress and the best so far") { id, coordinator, output };
        command.SetAction((parse, ct) => Guard(parse.GetValue(coordinator)!, async connection =>
        {
            bool json = parse.GetValue(output) == "json";
            var view = await SweepWatcher.WatchAsync(connection, parse.GetValue(id)!, AnsiConsole.Console, json, ct);
            if (!json) PrintFinal(AnsiConsole.Console, view);
            return view.Summary.State == SweepState.Completed ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    private static Command Cancel()
    {
        var id = new Argument<string>("sweep") { Description = "Sweep id" };
        var coordinator = JobsConnection.CoordinatorOption();
        var reason = new Option<string>("--reason") { DefaultValueFactory = _ => "canceled from the command line" };
        var command = new Command("cancel", "Cancel a sweep: queued trials are dropped, running ones stopped") { id, coordinator, reason };
        command.SetAction((parse, ct) => Guard(parse.GetValue(coordinator)!, async connection =>
        {
            var response = await connection.Client.CancelSweepAsync(new CancelSweepRequest { SweepId = parse.GetValue(id)!, Reason = parse.GetValue(reason)! },
                connection.Headers, JobsConnection.Deadline, ct);
            AnsiConsole.WriteLine($"sweep {parse.GetValue(id)}: {Formats.State(response.State)}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Artifacts()
    {
        var what = new Argument<string>("artifact") { Description = "SWEEP/TRIAL/NAME, e.g. s-1a2b/3/checkpoint-000001000.ckpt" };
        var coordinator = JobsConnection.CoordinatorOption();
        var to = new Option<FileInfo?>("--out", "-o") { Description = "Where to write it (default: NAME in the current directory)" };
        var get = new Command("get", "Download an artifact of a trial") { what, coordinator, to };
        get.SetAction((parse, ct) => Guard(parse.GetValue(coordinator)!, async connection =>
        {
            var parts = parse.GetValue(what)!.Split('/');
            if (parts.Length != 3 || !int.TryParse(parts[1], out var trial))
                return Usage($"'{parse.GetValue(what)}' is not SWEEP/TRIAL/NAME with a trial number");
            var destination = parse.GetValue(to)?.FullName ?? Path.GetFullPath(parts[2]);
            var temp = destination + ".part";
            long total = 0;
            using (var call = connection.Client.DownloadArtifact(new DownloadArtifactRequest { SweepId = parts[0], TrialNumber = trial, Name = parts[2] },
                connection.Headers, DateTime.UtcNow.AddMinutes(30), ct))
            await using (var file = File.Create(temp))
            {
                while (await call.ResponseStream.MoveNext(ct))
                {
                    await file.WriteAsync(call.ResponseStream.Current.Data.Memory, ct);
                    total += call.ResponseStream.Current.Data.Length;
                }
            }
            File.Move(temp, destination, overwrite: true);
            AnsiConsole.WriteLine($"{destination} ({total} bytes)");
            return ExitCodes.Ok;
        }));
        return new Command("artifacts", "Trial artifacts: checkpoints, sample grids, metrics") { get };
    }

    /// <summary>The final table and the best trial.</summary>
    public static void PrintFinal(IAnsiConsole console, SweepView view)
    {
        console.Write(view.Render(maxRows: 1000));
        var s = view.Summary;
        console.MarkupLine($"sweep {Markup.Escape(s.SweepId)} [bold]{Formats.State(s.State)}[/]" + (view.FinishReason is { } r && r != Formats.State(s.State) ? $": {Markup.Escape(r)}" : ""));
        if (s.HasBestTrial && view.Trials.FirstOrDefault(t => t.TrialNumber == s.BestTrial) is { } best)
            console.MarkupLine($"best trial #{best.TrialNumber}: {Markup.Escape(view.Metric)} = {Formats.Number(best.HasObjective ? best.Objective : null)} with {Markup.Escape(Formats.Parameters(best))}");
    }

    /// <summary>Runs a remote command, turning transport failures into one line on stderr and exit code 1.</summary>
    private static async Task<int> Guard(string coordinator, Func<JobsConnection, Task<int>> body)
    {
        JobsConnection connection;
        try
        {
            connection = JobsConnection.From(coordinator);
        }
        catch (UriFormatException)
        {
            return Usage($"--coordinator '{coordinator}' is not a URL such as {JobsConnection.DefaultCoordinator}");
        }
        using (connection)
        {
            try
            {
                return await body(connection);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
            {
                return ExitCodes.Interrupted;
            }
            catch (RpcException e)
            {
                Console.Error.WriteLine($"error: {JobsConnection.Describe(e, connection.Coordinator)}");
                return e.StatusCode == StatusCode.InvalidArgument ? ExitCodes.Usage : ExitCodes.Failed;
            }
            catch (OperationCanceledException)
            {
                return ExitCodes.Interrupted;
            }
        }
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return ExitCodes.Usage;
    }
}
