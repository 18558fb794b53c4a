namespace Orchestrator.Shared.Sweeps;

/// <summary>The metric a sweep optimises and in which direction.</summary>
public sealed record ObjectiveSpec
{
    /// <summary>Name of a metric the trial reports (an evaluation figure such as <c>fid</c> or <c>modes_covered</c>, or <c>objective</c>).</summary>
    public string Metric { get; init; } = "objective";

    /// <summary><see cref="Goals.Minimize"/> or <see cref="Goals.Maximize"/>.</summary>
    public string Goal { get; init; } = Goals.Minimize;
}
