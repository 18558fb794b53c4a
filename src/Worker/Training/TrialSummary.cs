using System.Text.Json.Serialization;

namespace Orchestrator.Worker.Training;

/// <summary>summary.json: how the run ended and its final evaluation.</summary>
public sealed record TrialSummary
{
    public required string Status { get; init; }
    public required int Step { get; init; }
    public required int Steps { get; init; }
    public string? Reason { get; init; }
    public IReadOnlyDictionary<string, double> Evaluation { get; init; } = new Dictionary<string, double>();
    public string? Device { get; init; }
    public double WallSeconds { get; init; }
    public double CpuSeconds { get; init; }
    public double SamplesPerSecond { get; init; }
    public string? Checkpoint { get; init; }
    public string? Samples { get; init; }
    /// <summary>Step the run resumed from, when it did.</summary>
    public int? ResumedFrom { get; init; }
    /// <summary>
    /// A failure that is not the trial's own (a peer of its data-parallel group died or stalled): running it again
    /// from its last checkpoint can succeed. Null for every other outcome.
    /// </summary>
    public bool? Retryable { get; init; }
}

/// <summary>Source-generated JSON for summaries (snake_case, indented).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TrialSummary))]
public sealed partial class SummaryJson : JsonSerializerContext;
