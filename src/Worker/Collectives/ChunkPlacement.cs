namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Where a link may read a chunk's payload straight into, instead of a pooled array that the collective then
/// copies from: the all-gather's chunks land in their final place in the caller's buffer, one copy fewer per byte.
/// </summary>
internal interface IChunkPlacement
{
    /// <summary>
    /// Called by the link's reader when a chunk's header arrives, before its payload: the memory to read the payload
    /// into, exactly <paramref name="payloadBytes"/> long, or empty to read it into a pooled array as usual.
    /// </summary>
    Memory<byte> TargetFor(in ChunkHeader header, int payloadBytes);
}

/// <summary>A link that can read chunks into place (<see cref="TcpLink"/>).</summary>
internal interface IPlacingLink
{
    /// <summary>Reads chunks into place until the returned scope is disposed; disposing waits for a placed read in progress.</summary>
    IAsyncDisposable Place(IChunkPlacement placement);
}

/// <summary>A ring exchange whose left-hand link can read chunks into place (<see cref="ProcessGroup"/> over TCP).</summary>
internal interface IChunkPlacementHost
{
    /// <summary>The scope of <see cref="IPlacingLink.Place"/> on the link from rank - 1, or null when that link cannot place.</summary>
    IAsyncDisposable? Place(IChunkPlacement placement);
}
