namespace Orchestrator.Coordinator.Search;

/// <summary>One Hyperband bracket: its index s, its trial count n_s and the steps its first rung sits at.</summary>
public sealed record BracketInfo(int S, int Trials, int MinResource);
