using System.Diagnostics;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// Splits a buffer into one segment per rank (sizes differ by at most one element, the first ones larger) and every
/// segment into the same number of chunks, so every ring step sends the same number of frames; the last chunks of
/// a shorter segment may be empty.
/// </summary>
internal readonly struct RingLayout
{
    private readonly int _quotient;
    private readonly int _remainder;
    private readonly int _chunkElements;

    public RingLayout(int length, int worldSize, int chunkElements)
    {
        Debug.Assert(length >= 0 && worldSize >= 1 && chunkElements >= 1);
        _quotient = length / worldSize;
        _remainder = length % worldSize;
        _chunkElements = chunkElements;
        int largest = _quotient + (_remainder > 0 ? 1 : 0);
        // At least one chunk even for an empty buffer: every rank still exchanges headers, so ranks that disagree
        // on the length fail at once instead of one of them waiting for data that never comes.
        ChunksPerSegment = Math.Max(1, (int)(((long)largest + chunkElements - 1) / chunkElements));
    }

    public int ChunksPerSegment { get; }

    public (int Offset, int Count) Segment(int segment) =>
        (segment * _quotient + Math.Min(segment, _remainder), _quotient + (segment < _remainder ? 1 : 0));

    public (int Offset, int Count) Chunk(int segment, int chunk)
    {
        var (offset, count) = Segment(segment);
        long start = Math.Min((long)chunk * _chunkElements, count);
        long end = Math.Min((long)(chunk + 1) * _chunkElements, count);
        return (offset + (int)start, (int)(end - start));
    }
}
