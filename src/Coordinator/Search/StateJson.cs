using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestrator.Coordinator.Search;

/// <summary>
/// The JSON form shared by every persisted search state: snake_case names (stable, independent of C# renames),
/// an "algorithm" tag and a "version", checked on restore so a state never silently feeds the wrong class.
/// </summary>
internal static class StateJson
{
    public const int Version = 1;

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Doubles must come back bit-identical for restored runs to match uninterrupted ones; System.Text.Json
        // writes the shortest round-trippable form. A diverged trial's value is kept as +infinity (the worst),
        // written as the string "Infinity".
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Write<T>(T state) => JsonSerializer.Serialize(state, Options);

    /// <summary>Parses <paramref name="json"/> and checks its tag, version and (when given) parameter signature.</summary>
    public static T Read<T>(string json, string algorithm, string[]? signature, int? seed) where T : class, IState
    {
        if (string.IsNullOrWhiteSpace(json)) throw new SearchStateException($"{algorithm} state is empty");
        T? state;
        try
        {
            // The tag first: a state of another algorithm should say so, not fail on its shape.
            var envelope = JsonSerializer.Deserialize<Envelope>(json, Options);
            if (envelope is not null && envelope.Algorithm != algorithm)
                throw new SearchStateException($"state was saved by algorithm '{envelope.Algorithm}', cannot restore it as '{algorithm}'");
            state = JsonSerializer.Deserialize<T>(json, Options);
        }
        catch (JsonException e)
        {
            throw new SearchStateException($"{algorithm} state is not valid JSON of the expected shape: {e.Message}", e);
        }
        if (state is null) throw new SearchStateException($"{algorithm} state is null");
        if (state.Algorithm != algorithm)
            throw new SearchStateException($"state was saved by algorithm '{state.Algorithm}', cannot restore it as '{algorithm}'");
        if (state.Version != Version)
            throw new SearchStateException($"{algorithm} state has version {state.Version}, this coordinator reads version {Version}");
        if (seed is int s && state.Seed != s)
            throw new SearchStateException($"{algorithm} state was saved with seed {state.Seed}, the sweep now says {s}");
        if (signature is not null)
        {
            var saved = state.Parameters ?? [];
            for (int i = 0; i < Math.Max(saved.Length, signature.Length); i++)
            {
                string? was = i < saved.Length ? saved[i] : null;
                string? now = i < signature.Length ? signature[i] : null;
                if (was != now)
                    throw new SearchStateException(
                        $"{algorithm} state was saved for a different search space: parameter {i} was '{was ?? "(none)"}', is now '{now ?? "(none)"}'");
            }
        }
        return state;
    }

    private sealed record Envelope
    {
        public string? Algorithm { get; init; }
    }

    /// <summary>The envelope every state record carries.</summary>
    public interface IState
    {
        string Algorithm { get; }
        int Version { get; }
        int Seed { get; }
        string[]? Parameters { get; }
    }
}
