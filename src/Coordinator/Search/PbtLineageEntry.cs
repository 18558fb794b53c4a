namespace Orchestrator.Coordinator.Search;

/// <summary>
/// One exploit in a PBT population's history: <see cref="Trial"/>, deciding at <see cref="Step"/>, copied
/// <see cref="SourceTrial"/>'s checkpoint of <see cref="SourceCheckpointStep"/> and continued with
/// <see cref="NewPoint"/> instead of <see cref="OldPoint"/>.
/// </summary>
public sealed record PbtLineageEntry(
    int Trial,
    int Step,
    int SourceTrial,
    int SourceCheckpointStep,
    double[] OldPoint,
    double[] NewPoint);
