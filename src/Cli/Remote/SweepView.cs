using Orchestrator.Shared.Protos;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Orchestrator.Cli.Remote;

/// <summary>A sweep as the terminal shows it: a header with progress and the best so far, one row per trial.</summary>
public sealed class SweepView
{
    private readonly SortedDictionary<int, TrialSummary> _trials = new();

    public SweepView(Sweep sweep)
    {
        Summary = sweep.Summary;
        Spec = sweep.Spec;
        foreach (var t in sweep.Trials) _trials[t.TrialNumber] = t;
    }

    public SweepSummary Summary { get; private set; }

    public SweepSpec Spec { get; }

    /// <summary>The objective's metric name ("objective" when the spec leaves the default).</summary>
    public string Metric => Spec.Objective?.Metric is { Length: > 0 } m ? m : "objective";

    public IReadOnlyCollection<TrialSummary> Trials => _trials.Values;

    public string? FinishReason { get; private set; }

    public bool Finished => FinishReason is not null || Summary.State is SweepState.Completed or SweepState.Failed or SweepState.Canceled;

    /// <summary>Applies one event; the trial whose state changed, if any.</summary>
    public TrialSummary? Apply(SweepEvent e)
    {
        switch (e.EventCase)
        {
            case SweepEvent.EventOneofCase.Snapshot:
                Summary = e.Snapshot;
                break;
            case SweepEvent.EventOneofCase.TrialChanged:
                _trials.TryGetValue(e.TrialChanged.Trial.TrialNumber, out var before);
                _trials[e.TrialChanged.Trial.TrialNumber] = e.TrialChanged.Trial;
                return before?.State == e.TrialChanged.Trial.State ? null : e.TrialChanged.Trial;
            case SweepEvent.EventOneofCase.Progress:
                if (_trials.TryGetValue(e.Progress.TrialNumber, out var trial))
                {
                    var updated = trial.Clone();
                    updated.Step = Math.Max(updated.Step, e.Progress.Step);
                    foreach (var (k, v) in e.Progress.Metrics) updated.LastMetrics[k] = v;
                    _trials[e.Progress.TrialNumber] = updated;
                }
                break;
            case SweepEvent.EventOneofCase.Finished:
                Summary = e.Finished.Summary;
                FinishReason = e.Finished.Reason.Length > 0 ? e.Finished.Reason : Formats.State(Summary.State);
                break;
        }
        return null;
    }

    public IRenderable Render(int maxRows = 40)
    {
        var s = Summary;
        var header = new Markup(
            $"[bold]{Markup.Escape(s.Name)}[/] ({Markup.Escape(s.SweepId)}) [{StateColor(s.State)}]{Formats.State(s.State)}[/]  " +
            $"trials {s.TrialsCompleted} done, {s.TrialsRunning} running, {s.TrialsQueued} queued, {s.TrialsFailed} failed of {s.MaxTrials}  " +
            $"best {(s.HasBestTrial ? $"#{s.BestTrial} {Markup.Escape(Metric)} = {Formats.Number(s.HasBestObjective ? s.BestObjective : null)}" : "-")}");
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("trial").AddColumn("state").AddColumn("progress").AddColumn("parameters")
            .AddColumn(new TableColumn(Markup.Escape(Metric)).RightAligned());
        var figures = Figures();
        foreach (var (_, label) in figures) table.AddColumn(new TableColumn(Markup.Escape(label)).RightAligned());
        table.AddColumn(new TableColumn("attempts").RightAligned());
        // Running trials first, then the newest: what is happening now fits on the screen.
        foreach (var t in _trials.Values.OrderBy(t => t.State == TrialState.Running ? 0 : 1).ThenByDescending(t => t.TrialNumber).Take(maxRows))
        {
            var cells = new List<IRenderable>
            {
                new Markup($"{t.TrialNumber}{(s.HasBestTrial && s.BestTrial == t.TrialNumber ? " [yellow]*[/]" : "")}"),
                new Markup($"[{Formats.Color(t.State)}]{Formats.State(t.State)}[/]"),
                new Markup(Bar(t)),
                new Markup(Markup.Escape(Formats.Parameters(t))),
                new Markup(Formats.Number(t.HasObjective ? t.Objective : Current(t, Metric))),
            };
            foreach (var (key, _) in figures) cells.Add(new Markup(Formats.Number(Current(t, key))));
            cells.Add(new Markup(t.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            table.AddRow(cells);
        }
        return new Rows(header, table);
    }

    /// <summary>
    /// The training figures the dashboard charts, as columns: those some trial has reported, in a fixed order, the
    /// objective's metric left out (it has its own column). Trials of other kinds report none of them.
    /// </summary>
    public IReadOnlyList<(string Key, string Label)> Figures() =>
        KnownFigures.Where(f => f.Key != Metric && _trials.Values.Any(t => t.LastMetrics.ContainsKey(f.Key))).ToList();

    /// <summary>One trial's training figures for a line of text ("d_loss 0.69 g_loss 0.71 ..."), empty when it has none.</summary>
    public string FigureText(TrialSummary t) =>
        string.Join(" ", KnownFigures.Where(f => t.LastMetrics.ContainsKey(f.Key)).Select(f => $"{f.Key} {Formats.Number(t.LastMetrics[f.Key])}"));

    private static readonly (string Key, string Label)[] KnownFigures =
    [
        ("d_loss", "D loss"), ("g_loss", "G loss"), ("samples_per_sec", "samples/s"),
        ("modes_covered", "modes"), ("high_quality_fraction", "HQ"),
        ("class_coverage", "classes"), ("class_kl", "class KL"), ("frechet_distance", "FID"), ("kid", "KID"),
    ];

    private static double? Current(TrialSummary t, string? metric) =>
        metric is not null && t.LastMetrics.TryGetValue(metric, out var v) ? v : null;

    private static string Bar(TrialSummary t)
    {
        const int width = 20;
        double fraction = t.State == TrialState.Completed ? 1 : t.TotalSteps > 0 ? Math.Clamp((double)t.Step / t.TotalSteps, 0, 1) : 0;
        int filled = (int)Math.Round(fraction * width);
        return $"[{Formats.Color(t.State)}]{new string('█', filled)}[/][grey]{new string('░', width - filled)}[/] {fraction,4:P0}";
    }

    private static string StateColor(SweepState s) => s switch
    {
        SweepState.Completed => "green",
        SweepState.Running => "blue",
        _ => "red",
    };
}
