using System.Text.Json.Serialization;

namespace Orchestrator.Worker.Training;

/// <summary>The JSON head of a checkpoint file: the trainer's non-tensor state.</summary>
public sealed record CheckpointHeader(
    int Format,
    int Step,
    int Epoch,
    int Batch,
    string Rng,
    AdaptiveLrState? Controller);

/// <summary>Source-generated JSON for checkpoint headers.</summary>
// NaN is a real value here: the controller has no window rate before its first decision.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(CheckpointHeader))]
public sealed partial class CheckpointJson : JsonSerializerContext;
