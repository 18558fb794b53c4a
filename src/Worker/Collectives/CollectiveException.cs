namespace Orchestrator.Worker.Collectives;

/// <summary>A collective or the group's setup failed on this rank; the group cannot be used any more.</summary>
public sealed class CollectiveException : Exception
{
    public CollectiveException(string message, int? peerRank, long sequence, Exception? innerException = null)
        : base(message, innerException)
    {
        PeerRank = peerRank;
        Sequence = sequence;
    }

    /// <summary>The rank held responsible, or null when no single rank is (the ranks disagree on the setup).</summary>
    public int? PeerRank { get; }

    /// <summary>The collective this rank was in, or had last started, when the group failed; 0 is the setup.</summary>
    public long Sequence { get; }
}
