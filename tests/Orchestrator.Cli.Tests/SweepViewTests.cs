using Orchestrator.Cli.Remote;
using Orchestrator.Shared.Protos;
using Spectre.Console;

namespace Orchestrator.Cli.Tests;

/// <summary>`watch` shows the figures the dashboard charts: losses, throughput and the evaluation, per trial.</summary>
public sealed class SweepViewTests
{
    [Fact]
    public void A_gan_sweep_shows_losses_throughput_and_evaluation_per_trial_and_progress_events_update_them()
    {
        var view = new SweepView(Sweep("high_quality_fraction",
            Trial(0, TrialState.Completed, ("d_loss", 0.5), ("g_loss", 1.25), ("samples_per_sec", 812), ("modes_covered", 25), ("high_quality_fraction", 0.86)),
            Trial(1, TrialState.Running)));

        Assert.Equal(["d_loss", "g_loss", "samples_per_sec", "modes_covered"], view.Figures().Select(f => f.Key));
        string table = Render(view);
        Assert.Contains("D loss", table);
        Assert.Contains("samples/s", table);
        Assert.Contains("modes", table);
        var row = Line(table, "completed");
        Assert.Contains("0.5", row);
        Assert.Contains("1.25", row);
        Assert.Contains("812", row);
        Assert.Contains("25", row);
        Assert.Contains("0.86", row);

        // A progress event of the running trial: its row shows the new figures without waiting for a state change.
        var progress = new TrialProgress { TrialNumber = 1, Step = 300 };
        progress.Metrics.Add("d_loss", 0.6931);
        progress.Metrics.Add("g_loss", 3.5);
        view.Apply(new SweepEvent { Progress = progress });
        var running = Line(Render(view), "running");
        Assert.Contains("0.6931", running);
        Assert.Contains("3.5", running);
        Assert.Equal("d_loss 0.6931 g_loss 3.5", view.FigureText(view.Trials.Single(t => t.TrialNumber == 1)));
    }

    [Fact]
    public void Trials_without_training_figures_get_no_figure_columns()
    {
        var view = new SweepView(Sweep("objective", Trial(0, TrialState.Completed, ("objective", 0.25))));
        Assert.Empty(view.Figures());
        Assert.DoesNotContain("D loss", Render(view));
        Assert.Equal("", view.FigureText(view.Trials.Single()));
    }

    private static Sweep Sweep(string metric, params TrialSummary[] trials)
    {
        var sweep = new Sweep
        {
            Summary = new SweepSummary { SweepId = "s-1", Name = "view", State = SweepState.Running, MaxTrials = trials.Length },
            Spec = new SweepSpec { Objective = new ObjectiveSpec { Metric = metric } },
        };
        sweep.Trials.AddRange(trials);
        return sweep;
    }

    private static TrialSummary Trial(int number, TrialState state, params (string Key, double Value)[] metrics)
    {
        var trial = new TrialSummary { TrialNumber = number, State = state, Step = 100, TotalSteps = 1000, Attempts = 1 };
        foreach (var (key, value) in metrics) trial.LastMetrics.Add(key, value);
        return trial;
    }

    private static string Render(SweepView view)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 300;
        console.Write(view.Render());
        return writer.ToString();
    }

    // A trial's row: the one with that state and a progress bar (the header names the sweep's state too).
    private static string Line(string table, string state) =>
        table.Split('\n').Single(l => l.Contains(state, StringComparison.Ordinal) && (l.Contains('█') || l.Contains('░')));
}
