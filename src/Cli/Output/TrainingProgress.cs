using System.Globalization;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Collectives;
using Orchestrator.Worker.Training;
using Spectre.Console;

namespace Orchestrator.Cli.Output;

/// <summary>Runs a trial behind a live progress bar (steps, losses, samples/s, ETA), or plain lines when not interactive.</summary>
public static class TrainingProgress
{
    public static TrialSummary Run(IAnsiConsole console, TrialSpec spec, RunDirectory run, ReplicaGroup? group, IReadOnlyList<int>? cores, CancellationToken cancellationToken)
    {
        if (!console.Profile.Capabilities.Interactive)
            return new TrialRunner(spec, run, new LineObserver(console), group) { Cores = cores }.Run(cancellationToken);

        TrialSummary? summary = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                     new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("starting", maxValue: spec.Training.Steps);
                summary = new TrialRunner(spec, run, new BarObserver(console, task), group) { Cores = cores }.Run(cancellationToken);
            });
        return summary!;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string StepLine(StepStats s, double samplesPerSecond) =>
        Inv($"step {s.Step}  d {s.DiscriminatorLoss:F4}  g {s.GeneratorLoss:F4}  fooled {s.FooledRate:P0}  {samplesPerSecond:F0} samples/s");

    private static string EvalLine(int step, IReadOnlyDictionary<string, double> metrics) =>
        $"eval @ {step}: " + string.Join("  ", metrics.Select(kv => Inv($"{kv.Key} {kv.Value:G4}")));

    private sealed class BarObserver(IAnsiConsole console, ProgressTask task) : ITrialObserver
    {
        public void OnStart(int startStep, int totalSteps, string device)
        {
            task.Value = startStep;
            task.Description = Markup.Escape($"training on {device}");
        }

        public void OnStep(StepStats stats, double samplesPerSecond)
        {
            task.Value = stats.Step;
            task.Description = Markup.Escape(StepLine(stats, samplesPerSecond));
        }

        public void OnEvaluation(int step, IReadOnlyDictionary<string, double> metrics, string samplePath) =>
            console.MarkupLine($"[green]{Markup.Escape(EvalLine(step, metrics))}[/]");

        public void OnCheckpoint(int step, string path)
        {
        }

        public void OnMessage(string message) => console.MarkupLine($"[yellow]{Markup.Escape(message)}[/]");
    }

    private sealed class LineObserver(IAnsiConsole console) : ITrialObserver
    {
        private int _total;

        public void OnStart(int startStep, int totalSteps, string device)
        {
            _total = totalSteps;
            console.WriteLine(Inv($"training on {device} from step {startStep} to {totalSteps}"));
        }

        public void OnStep(StepStats stats, double samplesPerSecond) =>
            console.WriteLine(Inv($"[{stats.Step}/{_total}] ") + StepLine(stats, samplesPerSecond));

        public void OnEvaluation(int step, IReadOnlyDictionary<string, double> metrics, string samplePath) =>
            console.WriteLine(EvalLine(step, metrics));

        public void OnCheckpoint(int step, string path)
        {
        }

        public void OnMessage(string message) => console.WriteLine(message);
    }
}
