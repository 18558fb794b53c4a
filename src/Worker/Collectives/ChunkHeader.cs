namespace Orchestrator.Worker.Collectives;

/// <summary>Identifies one chunk of one collective; receivers compare it with the header they expect.</summary>
/// <param name="Sequence">The collective's sequence number in its group.</param>
/// <param name="Index">The chunk's position among all chunks its sender sends in the collective.</param>
/// <param name="Kind">The collective the sender is running.</param>
/// <param name="TotalBytes">The sender's buffer length in bytes.</param>
/// <param name="Root">The broadcast root; 0 for the other collectives.</param>
public readonly record struct ChunkHeader(long Sequence, int Index, CollectiveKind Kind, long TotalBytes, int Root)
{
    public override string ToString() => Kind switch
    {
        CollectiveKind.Broadcast => $"collective #{Sequence} (broadcast of {TotalBytes} bytes from rank {Root}), chunk {Index}",
        CollectiveKind.Barrier => $"collective #{Sequence} (barrier), step {Index}",
        _ => $"collective #{Sequence} ({(Kind == CollectiveKind.AllReduceSum ? "sum" : "average")} all-reduce of {TotalBytes} bytes), chunk {Index}",
    };
}
