using System.CommandLine;
using Orchestrator.Cli.Output;
using Orchestrator.Cli.Parallel;
using Orchestrator.Worker.Collectives;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Telemetry;
using Orchestrator.Worker.Training;
using Spectre.Console;

namespace Orchestrator.Cli.Commands;

/// <summary>`orchestrator train`: runs one trial locally, or resumes one from its run directory.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "Trial YAML file (a `trial:` block)" };
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "Run directory to create" };
        var resume = new Option<DirectoryInfo?>("--resume") { Description = "Run directory to continue from its last checkpoint" };
        var rank = new Option<int?>("--rank") { Description = "This process's rank in a data-parallel group (0 writes the run directory)" };
        var world = new Option<int?>("--world") { Description = "Number of processes in the group" };
        var peers = new Option<string?>("--peers") { Description = "Every rank's collective endpoint, host:port, comma-separated in rank order" };
        var devices = new Option<int?>("--devices") { Description = "Replicas inside this process, one per device (CPU replicas on a CPU device)" };
        var group = new Option<string?>("--group") { Description = "Group id shared by all ranks (default: derived from the trial and the peers)" };
        var timeout = new Option<double>("--collective-timeout")
        {
            Description = "Seconds a peer may stall or be gone before every rank fails", DefaultValueFactory = _ => 30,
        };
        var transport = new Option<string>("--transport")
        {
            Description = "Collective transport between the ranks: tcp (default, fastest) or grpc", DefaultValueFactory = _ => "tcp",
        };
        var cores = new Option<string?>("--cores")
        {
            Description = "Pin this process's training threads to these CPU cores, e.g. 0-3 or 0,2 (Linux; shared evenly between the --devices replicas; default: not pinned)",
        };
        var parentPid = new Option<int?>("--parent-pid") { Description = "Stop (with a checkpoint) when this process exits: set by a worker agent for its trials" };
        var events = new Option<bool>("--events") { Description = "Write progress as JSON lines (for a supervising worker agent) instead of a progress bar" };
        var command = new Command("train", "Train one GAN trial locally with a progress bar, alone or as one rank of a data-parallel group")
        {
            config, output, resume, rank, world, peers, devices, group, timeout, transport, cores, events, parentPid,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(config), parse.GetValue(output), parse.GetValue(resume),
            (parse.GetValue(rank), parse.GetValue(world), parse.GetValue(peers), parse.GetValue(devices), parse.GetValue(group), parse.GetValue(timeout), parse.GetValue(transport)!),
            parse.GetValue(cores), parse.GetValue(events), parse.GetValue(parentPid), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo? config, DirectoryInfo? output, DirectoryInfo? resume,
        (int? Rank, int? World, string? Peers, int? Devices, string? Group, double Timeout, string Transport) parallel, string? coreList, bool events, int? parentPid,
        CancellationToken cancellationToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var watcher = parentPid is { } pid ? ParentWatcher.Start(pid, stopping) : null;
        cancellationToken = stopping.Token;
        var console = AnsiConsole.Console;
        RunDirectory run;
        string yaml;
        string source;
        if (resume is not null)
        {
            if (config is not null || output is not null)
                return Usage("--resume DIR continues the run in DIR with its own trial.yaml; do not pass --config or --out with it");
            run = new RunDirectory(resume.FullName);
            if (!File.Exists(run.TrialFile))
                return Usage($"{run.Root} holds no run to resume (no trial.yaml)");
            source = run.TrialFile;
            yaml = File.ReadAllText(source);
        }
        else
        {
            if (config is null || output is null)
                return Usage("train needs --config FILE and --out DIR (or --resume DIR)");
            if (!config.Exists) return Usage($"{config.FullName}: file not found");
            run = new RunDirectory(output.FullName);
            // Ranks other than 0 share rank 0's run directory (or read nothing from theirs) and never write it.
            if ((parallel.Rank ?? 0) == 0 && run.HoldsRun)
                return Usage($"{run.Root} already holds a run; continue it with --resume {output} or choose another --out");
            source = config.FullName;
            yaml = File.ReadAllText(source);
        }

        TrialSpec spec;
        try
        {
            spec = TrialSpecReader.FromYaml(yaml, Path.GetFileName(source));
        }
        catch (SpecException e)
        {
            return Usage($"{source}: {e.Message}");
        }
        var (settings, error) = GroupSettings.Parse(parallel.Rank, parallel.World, parallel.Peers, parallel.Devices, parallel.Group, parallel.Timeout, yaml);
        if (settings is null) return Usage(error!);
        try
        {
            settings = settings with { Transport = CollectiveTransports.Parse(parallel.Transport) };
        }
        catch (ArgumentException e)
        {
            return Usage($"--transport: {e.Message}");
        }
        IReadOnlyList<int>? cores = null;
        if (coreList is not null)
        {
            try
            {
                cores = CpuAffinity.Parse(coreList);
            }
            catch (FormatException e)
            {
                return Usage($"--cores: {e.Message}");
            }
            if (CpuAffinity.Check(cores, settings.Devices, "--cores") is { } wrong) return Usage(wrong);
        }
        try
        {
            spec.Data.PerReplicaBatch(settings.World * settings.Devices);
        }
        catch (ArgumentException e)
        {
            return Usage($"{source}: {e.Message}");
        }
        if (resume is null && settings.Rank == 0)
        {
            run.Create();
            RunDirectory.WriteAtomically(run.TrialFile, s => s.Write(System.Text.Encoding.UTF8.GetBytes(yaml)));
        }

        var eventStream = events ? new EventStreamObserver(Console.Out) : null;
        // OTLP when the OTEL_* variables say so (a worker's trial inherits them); the worker's attempt span is the parent.
        using var exporting = ProcessTelemetry.StartFromEnvironment(TelemetryNames.TrainService, Environment.GetEnvironmentVariable(TraceEnvironmentNames.WorkerId));
        using var telemetry = exporting is null ? null : new TrainingTelemetry(Environment.GetEnvironmentVariable(TraceEnvironmentNames.TraceParent),
            Environment.GetEnvironmentVariable(TraceEnvironmentNames.SweepId),
            int.TryParse(Environment.GetEnvironmentVariable(TraceEnvironmentNames.TrialNumber), out var trialNumber) ? trialNumber : null);
        TrialSummary summary;
        if (settings.Single)
        {
            summary = eventStream is not null
                ? new TrialRunner(spec, run, eventStream) { Telemetry = telemetry, Cores = cores }.Run(cancellationToken)
                : TrainingProgress.Run(console, spec, run, null, cores, cancellationToken);
        }
        else
        {
            await using var formed = await DataParallelGroup.FormAsync(settings, console, cancellationToken);
            if (formed.Error is not null)
            {
                Console.Error.WriteLine($"error: {formed.Error}");
                return ExitCodes.Failed;
            }
            summary = eventStream is not null
                ? new TrialRunner(spec, run, eventStream, formed.Replicas) { Telemetry = telemetry, Cores = cores }.Run(cancellationToken)
                : TrainingProgress.Run(console, spec, run, formed.Replicas, cores, cancellationToken);
        }
        telemetry?.Finish(summary.Status, summary.Reason);
        if (eventStream is not null) eventStream.OnSummary(summary);
        else if (settings.Rank == 0) SummaryPrinter.Print(console, summary, run);
        else SummaryPrinter.PrintRank(console, summary, settings.Rank);
        return summary.Status switch
        {
            TrialStatus.Completed => ExitCodes.Ok,
            TrialStatus.Diverged => ExitCodes.Diverged,
            TrialStatus.Interrupted => ExitCodes.Interrupted,
            _ => ExitCodes.Failed,
        };
    }

    // Errors go to stderr unwrapped, so the field path and allowed values stay greppable on one line.
    private static int Usage(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return ExitCodes.Usage;
    }
}
