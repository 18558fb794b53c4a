namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Where a link may read a chunk's payload straight into, instead of a pooled array that the collective then
/// copies or adds from: all-gather chunks land in their final place in the caller's buffer, and reduce-scatter
/// chunks are added into it piece by piece as they come off the socket, while each piece is still in the cache.
/// </summary>
/// <remarks>
/// A frame whose payload is the very memory the collective would write it to has been applied by the link; the
/// collective then only forwards it.
/// </remarks>
internal interface IChunkPlacement
{
    /// <summary>
    /// Called by the link's reader when a chunk's header arrives, before its payload: where and how to apply the
    /// payload, exactly <paramref name="payloadBytes"/> long, or an empty target to read it into a pooled array.
    /// </summary>
    ChunkTarget TargetFor(in ChunkHeader header, int payloadBytes);
}

/// <summary>What the link does with a placed payload's bytes.</summary>
internal enum PlacementMode
{
    /// <summary>target = payload.</summary>
    Copy,
    /// <summary>target[i] = target[i] + payload[i], as floats.</summary>
    Add,
    /// <summary>target[i] = (target[i] + payload[i]) / divisor, as floats.</summary>
    AddThenDivide,
}

/// <summary>Where a placed payload goes; an empty <paramref name="Memory"/> means "not placed".</summary>
internal readonly record struct ChunkTarget(Memory<byte> Memory, PlacementMode Mode, float Divisor);

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
