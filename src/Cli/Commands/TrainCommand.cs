using System.CommandLine;
using Orchestrator.Cli.Output;
using Orchestrator.Shared.Specs;
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
        var command = new Command("train", "Train one GAN trial locally with a progress bar")
        {
            config, output, resume,
        };
        command.SetAction((parse, cancellationToken) =>
            Task.FromResult(Run(parse.GetValue(config), parse.GetValue(output), parse.GetValue(resume), cancellationToken)));
        return command;
    }

    private static int Run(FileInfo? config, DirectoryInfo? output, DirectoryInfo? resume, CancellationToken cancellationToken)
    {
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
            if (run.HoldsRun)
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
        if (resume is null)
        {
            run.Create();
            RunDirectory.WriteAtomically(run.TrialFile, s => s.Write(System.Text.Encoding.UTF8.GetBytes(yaml)));
        }

        var summary = TrainingProgress.Run(console, spec, run, cancellationToken);
        SummaryPrinter.Print(console, summary, run);
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
