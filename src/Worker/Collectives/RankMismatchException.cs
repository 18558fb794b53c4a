namespace Orchestrator.Worker.Collectives;

/// <summary>The ranks of a group disagree on the collective they run (its kind, length or sequence number): a bug in the caller.</summary>
internal sealed class RankMismatchException(string message) : Exception(message);
