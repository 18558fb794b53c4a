namespace Orchestrator.Worker.Training;

/// <summary>Receives a run's progress (the CLI's progress bar, later the worker's reports to the coordinator).</summary>
public interface ITrialObserver
{
    void OnStart(int startStep, int totalSteps, string device);
    void OnStep(StepStats stats, double samplesPerSecond);
    void OnEvaluation(int step, IReadOnlyDictionary<string, double> metrics, string samplePath);
    void OnCheckpoint(int step, string path);
    void OnMessage(string message);
}
