using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestrator.Worker.Training;

/// <summary>
/// One line of a trial's machine-readable progress (`orchestrator train --events`): what a worker agent reads from
/// the trial process it supervises. <see cref="Kind"/> is start, step, eval, checkpoint, message or summary.
/// </summary>
public sealed record TrialEvent
{
    public required string Kind { get; init; }
    public int? Step { get; init; }
    public int? Steps { get; init; }
    public string? Device { get; init; }
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }
    public string? Path { get; init; }
    public string? Message { get; init; }
    public TrialSummary? Summary { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, TrialEventJson.Default.TrialEvent);

    /// <summary>The event on a line, or null when the line is not one (other output of the process).</summary>
    public static TrialEvent? TryParse(string line)
    {
        if (!line.StartsWith("{\"kind\":", StringComparison.Ordinal)) return null;
        try
        {
            return JsonSerializer.Deserialize(line, TrialEventJson.Default.TrialEvent);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Source-generated JSON for events: one compact snake_case object per line. Non-finite losses are kept.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(TrialEvent))]
public sealed partial class TrialEventJson : JsonSerializerContext;
