using System.Globalization;
using Orchestrator.Worker.Training;
using Spectre.Console;

namespace Orchestrator.Cli.Output;

/// <summary>Prints a finished run's status, final evaluation and where its files are.</summary>
public static class SummaryPrinter
{
    public static void Print(IAnsiConsole console, TrialSummary summary, RunDirectory run)
    {
        var color = summary.Status == TrialStatus.Completed ? "green" : summary.Status == TrialStatus.Interrupted ? "yellow" : "red";
        console.MarkupLine($"[{color}]{summary.Status}[/] at step {summary.Step}/{summary.Steps}" +
            (summary.Reason is null ? "" : $": {Markup.Escape(summary.Reason)}"));
        if (summary.Evaluation.Count > 0)
        {
            var table = new Table().AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
            foreach (var (k, v) in summary.Evaluation) table.AddRow(k, v.ToString("G4", CultureInfo.InvariantCulture));
            console.Write(table);
        }
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wall {summary.WallSeconds:F1} s, cpu {summary.CpuSeconds:F1} s, {summary.SamplesPerSecond:F0} samples/s"));
        console.WriteLine($"summary:     {run.SummaryFile}");
        console.WriteLine($"metrics:     {run.MetricsFile}");
        if (summary.Samples is not null) console.WriteLine($"samples:     {summary.Samples}");
        if (summary.Checkpoint is not null) console.WriteLine($"checkpoint:  {summary.Checkpoint}");
    }

    /// <summary>A rank other than 0 writes no files: its status line says how it ended.</summary>
    public static void PrintRank(IAnsiConsole console, TrialSummary summary, int rank)
    {
        var color = summary.Status == TrialStatus.Completed ? "green" : summary.Status == TrialStatus.Interrupted ? "yellow" : "red";
        console.MarkupLine($"rank {rank}: [{color}]{summary.Status}[/] at step {summary.Step}/{summary.Steps}" +
            (summary.Reason is null ? "" : $": {Markup.Escape(summary.Reason)}"));
    }
}
