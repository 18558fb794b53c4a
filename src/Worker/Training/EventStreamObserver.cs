namespace Orchestrator.Worker.Training;

/// <summary>Writes a run's progress as <see cref="TrialEvent"/> lines, flushed as they happen.</summary>
public sealed class EventStreamObserver(TextWriter writer) : ITrialObserver
{
    private readonly object _gate = new();

    public void OnStart(int startStep, int totalSteps, string device) =>
        Write(new TrialEvent { Kind = "start", Step = startStep, Steps = totalSteps, Device = device });

    public void OnStep(StepStats stats, double samplesPerSecond)
    {
        var metrics = new Dictionary<string, double>
        {
            ["d_loss"] = stats.DiscriminatorLoss,
            ["g_loss"] = stats.GeneratorLoss,
            ["fooled_rate"] = stats.FooledRate,
            ["g_lr"] = stats.GeneratorLr,
            ["d_lr"] = stats.DiscriminatorLr,
            ["samples_per_sec"] = samplesPerSecond,
        };
        if (stats.GradientPenalty is { } gp) metrics["gradient_penalty"] = gp;
        Write(new TrialEvent { Kind = "step", Step = stats.Step, Metrics = metrics });
    }

    public void OnEvaluation(int step, IReadOnlyDictionary<string, double> metrics, string samplePath) =>
        Write(new TrialEvent { Kind = "eval", Step = step, Metrics = metrics, Path = samplePath });

    public void OnCheckpoint(int step, string path) => Write(new TrialEvent { Kind = "checkpoint", Step = step, Path = path });

    public void OnMessage(string message) => Write(new TrialEvent { Kind = "message", Message = message });

    public void OnSummary(TrialSummary summary) => Write(new TrialEvent { Kind = "summary", Step = summary.Step, Summary = summary });

    private void Write(TrialEvent e)
    {
        lock (_gate)
        {
            writer.WriteLine(e.ToJson());
            writer.Flush();
        }
    }
}
