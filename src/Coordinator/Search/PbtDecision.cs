namespace Orchestrator.Coordinator.Search;

/// <summary>
/// A <see cref="PbtController"/> answer: continue, or exploit: restart from <see cref="SourceTrial"/>'s checkpoint
/// at <see cref="SourceCheckpointStep"/> with the parameters <see cref="NewPoint"/> (in the sweep's parameter order).
/// </summary>
public sealed record PbtDecision(PbtAction Action, int? SourceTrial, int? SourceCheckpointStep, double[]? NewPoint)
{
    public static readonly PbtDecision Continue = new(PbtAction.Continue, null, null, null);

    public static PbtDecision Exploit(int sourceTrial, int sourceCheckpointStep, double[] newPoint) =>
        new(PbtAction.Exploit, sourceTrial, sourceCheckpointStep, newPoint);
}
