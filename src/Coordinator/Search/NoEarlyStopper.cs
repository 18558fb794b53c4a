using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>early_stopping: none: every trial trains to the end.</summary>
public sealed class NoEarlyStopper : IEarlyStopper
{
    public const string AlgorithmName = EarlyStoppingAlgorithms.None;

    public StopDecision Report(int trialNumber, int step, double value) => StopDecision.Continue;

    public void Complete(int trialNumber, double? value)
    {
    }

    public string SaveState() => StateJson.Write(new State { Algorithm = AlgorithmName, Version = StateJson.Version, Seed = 0, Parameters = null });

    public static NoEarlyStopper Restore(string state)
    {
        StateJson.Read<State>(state, AlgorithmName, signature: null, seed: null);
        return new NoEarlyStopper();
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
    }
}
