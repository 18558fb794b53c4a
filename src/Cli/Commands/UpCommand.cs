using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.Cli.Remote;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Shared.Net;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Sweeps;
using Orchestrator.Worker.Agent;
using Spectre.Console;

namespace Orchestrator.Cli.Commands;

/// <summary>
/// `orchestrator up SWEEP.yaml`: the whole system on this machine in one command. A coordinator on the embedded
/// default (localhost clustering, SQLite, artifacts in a directory) and local worker agents run in this process,
/// the sweep is submitted through the Jobs API like any remote client's, watched live, and summarised: the trial
/// table and the best trial with the paths to its sample grid and checkpoint. `--serve` keeps it all up afterwards.
/// </summary>
public static class UpCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "Sweep YAML (a `sweep:` block), e.g. examples/sweeps/sleep-grid.yaml" };
        var workers = new Option<int?>("--workers") { Description = "Local worker agents (default: enough for the sweep's resources.workers, at least 2)" };
        var slots = new Option<int>("--slots") { Description = "Trial slots per worker", DefaultValueFactory = _ => 1 };
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Where the coordinator keeps its database and artifacts", DefaultValueFactory = _ => new DirectoryInfo(".orchestrator"),
        };
        var port = new Option<int?>("--port") { Description = "The coordinator's gRPC port (default: a free one)" };
        var serve = new Option<bool>("--serve") { Description = "Keep the coordinator and workers up after the sweep (Ctrl+C to stop)" };
        var verbose = new Option<bool>("--verbose") { Description = "Show the coordinator's and workers' logs" };
        var command = new Command("up", "Run a sweep on this machine: coordinator, local workers, live progress, best trial")
        {
            file, workers, slots, data, port, serve, verbose,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(file)!, parse.GetValue(workers), parse.GetValue(slots), parse.GetValue(data)!,
            parse.GetValue(port), parse.GetValue(serve), parse.GetValue(verbose), ct));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo file, int? workerCount, int slots, DirectoryInfo data, int? port, bool serve, bool verbose,
        CancellationToken cancellationToken)
    {
        var console = AnsiConsole.Console;
        if (!file.Exists) return Usage($"{file.FullName}: file not found");
        Shared.Sweeps.SweepSpec spec;
        try
        {
            spec = SweepSpecReader.FromYaml(await File.ReadAllTextAsync(file.FullName, cancellationToken), file.Name);
        }
        catch (SpecException e)
        {
            return Usage($"{file.FullName}: {e.Message}");
        }
        if (slots is < 1 or > 64) return Usage($"--slots must be between 1 and 64, got {slots}");
        int members = Math.Max(1, spec.Resources.Workers);
        int count = workerCount ?? Math.Max(2, members);
        if (count < members) return Usage($"--workers {count} is fewer than the sweep's resources.workers ({members}): its trials could never start");

        Directory.CreateDirectory(data.FullName);
        int grpcPort = port ?? LoopbackPorts.Free();
        int httpPort = LoopbackPorts.Free();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orchestrator:GrpcPort"] = $"{grpcPort}",
            ["Orchestrator:HttpPort"] = $"{httpPort}",
            ["Orchestrator:Storage:Path"] = Path.Combine(data.FullName, "coordinator.db"),
            ["Orchestrator:Artifacts:Path"] = Path.Combine(data.FullName, "artifacts"),
            ["Orchestrator:Cluster:SiloPort"] = $"{LoopbackPorts.Free()}",
            ["Orchestrator:Cluster:GatewayPort"] = $"{LoopbackPorts.Free()}",
        });
        builder.Logging.ClearProviders();
        if (verbose) builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.AddCoordinator();
        await using var app = builder.Build();
        app.MapCoordinator();
        await app.StartAsync(cancellationToken);
        var coordinator = new Uri($"http://127.0.0.1:{grpcPort}");
        console.MarkupLine($"coordinator on [bold]{coordinator}[/] (data in {Markup.Escape(data.FullName)}), {count} local worker(s) x {slots} slot(s); dashboard at [bold]http://127.0.0.1:{httpPort}/[/]");

        using var logging = verbose ? LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true)) : NullLoggerFactory.Instance;
        var agents = new List<WorkerAgent>();
        using var stopAgents = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task>();
        for (int i = 0; i < count; i++)
        {
            var agent = new WorkerAgent(new WorkerAgentOptions
            {
                Coordinator = coordinator,
                Slots = slots,
                WorkerId = $"local-{i}",
                CollectivePort = LoopbackPorts.FreeRange(slots),
                WorkDirectory = Path.Combine(data.FullName, "workers", $"local-{i}"),
                TrainCommand = WorkerCommand.SelfCommand(),
            }, logging.CreateLogger($"worker.local-{i}"));
            agents.Add(agent);
            running.Add(agent.RunAsync(stopAgents.Token));
        }

        int exitCode;
        try
        {
            using var connection = new JobsConnection(coordinator, token: null);
            // The coordinator checks resources.workers against the workers it knows: let the local ones join first.
            await Task.WhenAll(agents.Select(a => a.Welcomed)).WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
            var request = new SubmitSweepRequest { RequestId = Guid.NewGuid().ToString("N"), Spec = spec.ToProto() };
            SubmitSweepResponse submitted;
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    submitted = await connection.Client.SubmitSweepAsync(request, deadline: JobsConnection.Deadline, cancellationToken: cancellationToken);
                    break;
                }
                catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.InvalidArgument
                    && e.Status.Detail.Contains("resources.workers", StringComparison.Ordinal) && attempt < 20)
                {
                    // A welcomed worker reaches the scheduler a moment later (a one-way notification).
                    await Task.Delay(250, cancellationToken);
                }
            }
            var view = await SweepWatcher.WatchAsync(connection, submitted.SweepId, console, json: false, cancellationToken);
            RemoteCommands.PrintFinal(console, view);
            PrintBestArtifacts(console, view, Path.Combine(data.FullName, "artifacts"));
            exitCode = view.Summary.State == SweepState.Completed ? ExitCodes.Ok : ExitCodes.Failed;
            if (serve)
            {
                console.MarkupLine($"serving on {coordinator}: submit more with [bold]orchestrator submit FILE --coordinator {coordinator}[/]; Ctrl+C stops");
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
        {
            exitCode = ExitCodes.Interrupted;
        }
        catch (Grpc.Core.RpcException e)
        {
            Console.Error.WriteLine($"error: {JobsConnection.Describe(e, coordinator)}");
            exitCode = e.StatusCode == Grpc.Core.StatusCode.InvalidArgument ? ExitCodes.Usage : ExitCodes.Failed;
        }
        finally
        {
            await stopAgents.CancelAsync();
            await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            foreach (var agent in agents) await agent.DisposeAsync();
            await app.StopAsync(CancellationToken.None);
        }
        return exitCode;
    }

    /// <summary>Where the best trial's newest sample grid and checkpoint are in the coordinator's artifact store.</summary>
    private static void PrintBestArtifacts(IAnsiConsole console, SweepView view, string artifacts)
    {
        if (!view.Summary.HasBestTrial) return;
        var directory = Path.Combine(artifacts, view.Summary.SweepId, $"{view.Summary.BestTrial}");
        if (!Directory.Exists(directory)) return;
        var samples = Directory.GetFiles(directory, "samples-*.png").Order(StringComparer.Ordinal).LastOrDefault();
        var checkpoint = Directory.GetFiles(directory, "checkpoint-*.ckpt").Order(StringComparer.Ordinal).LastOrDefault();
        if (samples is not null) console.WriteLine($"samples:     {samples}");
        if (checkpoint is not null) console.WriteLine($"checkpoint:  {checkpoint}");
    }


    private static int Usage(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return ExitCodes.Usage;
    }
}
