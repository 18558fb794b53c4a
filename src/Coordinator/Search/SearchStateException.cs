namespace Orchestrator.Coordinator.Search;

/// <summary>Persisted searcher, stopper or PBT state that cannot be restored: corrupt, or saved for a different sweep.</summary>
public sealed class SearchStateException : Exception
{
    public SearchStateException(string message) : base(message)
    {
    }

    public SearchStateException(string message, Exception inner) : base(message, inner)
    {
    }
}
