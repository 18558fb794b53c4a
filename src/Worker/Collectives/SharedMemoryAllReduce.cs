using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Orchestrator.Worker.Collectives;

/// <summary>
/// All-reduce through one shared-memory segment for a group whose ranks all run on one host (NCCL's SHM transport
/// does the same inside a node): each rank copies its buffer into its own slot, waits on futexes until every rank
/// has, and reads the sum straight out of the others' slots. No socket, no kernel copy and no thread of its own.
/// </summary>
/// <remarks>
/// <para>Sums follow the ring's order exactly: segment s of the buffer (as <see cref="RingLayout"/> splits it) is
/// summed x[s] + x[s+1] + ... + x[s-1], each partial sum rounded to float, and divided by n last for an average. The
/// results are therefore bit for bit those of <see cref="RingAllReduce"/>: which path a group takes changes no number.</para>
/// <para>A buffer longer than a slot goes in pieces. Two sets of slots alternate between pieces: a rank one piece ahead
/// writes the other set while the slowest still reads this one, and no rank gets two pieces ahead, because its next
/// piece needs every rank's arrival at this one, which each makes only after it has read the last.</para>
/// <para>With two ranks (and for short pieces) every rank sums the whole piece itself: one meeting per piece. With more
/// ranks and long pieces that would read every slot n times, so each rank sums its own segment in place in its slot,
/// the ranks meet a second time, and each copies every segment out: two meetings, a fraction of the memory traffic.</para>
/// </remarks>
internal sealed unsafe class SharedMemoryAllReduce : IDisposable
{
    /// <summary>File names in /dev/shm start with this, then the creating process's id.</summary>
    public const string Prefix = "orchestrator-collective-";

    /// <summary>Slot size per rank and set unless the group asks for another: 4 MiB holds either network's gradients
    /// in the dp_scaling DCGAN (1.1 MB each) in one piece; a group of n ranks maps 2·n slots.</summary>
    public const int DefaultSlotBytes = 4 * 1024 * 1024;

    /// <summary>Pieces longer than this (in floats) are summed by segment when there are more than two ranks.</summary>
    internal const int TwoPhaseMinimum = 16 * 1024;

    private const long Magic = 0x314D_4853_4843_524F; // "ORCHSHM1"
    private const int Version = 1;
    private const int Line = 64;
    private const int HeaderBytes = 4 * Line;
    private const int Sets = 2;
    private const int NonceBytes = 16;
    private const int WaitSliceMilliseconds = 20;
    private const int Spins = 16;
    private const string SegmentDirectory = "/dev/shm";
    private static readonly TimeSpan OrphanAge = TimeSpan.FromHours(1);

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly string _path;
    private readonly int _rank;
    private readonly int _worldSize;
    private readonly long _slotBytes;
    private readonly int _slotFloats;
    private readonly long _dataOffset;
    // Pieces this rank has started (1 for the first): the value its arrival word holds once it has published one.
    private long _pieces;
    private long _lastProgress;
    private int _disposed;
    // Threads inside Run, between Begin and End, or in Laggard: the mapping is released only once the last has left (a
    // failed group is disposed while its collective's thread may still be waking up from a futex wait).
    private int _users;
    private int _released;

    private SharedMemoryAllReduce(MemoryMappedFile file, string path, int rank, int worldSize, long slotBytes)
    {
        _file = file;
        _path = path;
        _rank = rank;
        _worldSize = worldSize;
        _slotBytes = slotBytes;
        _slotFloats = (int)(slotBytes / sizeof(float));
        _dataOffset = DataOffset(worldSize);
        _view = file.CreateViewAccessor(0, Size(worldSize, slotBytes), MemoryMappedFileAccess.ReadWrite);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
    }

    /// <summary>Where the segment lives; peers open it by this path.</summary>
    public string Path => _path;

    /// <summary>The last time (<see cref="Stopwatch"/> ticks) a piece completed or a peer arrived.</summary>
    public long LastProgress => Volatile.Read(ref _lastProgress);

    public static bool IsSupported => Futex.IsSupported && Directory.Exists(SegmentDirectory);

    /// <summary>Bytes a group of <paramref name="worldSize"/> maps with slots of <paramref name="slotBytes"/>.</summary>
    public static long Size(int worldSize, long slotBytes) => DataOffset(worldSize) + Sets * worldSize * slotBytes;

    // The header, an arrival and a reduction word per rank (a cache line each), a line per rank and set describing its
    // piece, then the slots from the next page on.
    private static long MetaOffset(int worldSize) => HeaderBytes + 2L * worldSize * Line;

    private static long DataOffset(int worldSize) => AlignUp(MetaOffset(worldSize) + (long)worldSize * Sets * Line, Environment.SystemPageSize);

    /// <summary>
    /// Rank 0's half of setup: a new segment in /dev/shm, every page allocated up front (so a full /dev/shm fails here
    /// with an error, not later with SIGBUS), stamped with a random nonce that peers must present.
    /// </summary>
    /// <exception cref="IOException">/dev/shm is missing, full or not writable.</exception>
    public static SharedMemoryAllReduce Create(int worldSize, int slotBytes, out byte[] nonce)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 2);
        if (slotBytes < Line || slotBytes % Line != 0)
            throw new ArgumentOutOfRangeException(nameof(slotBytes), slotBytes, $"Slots are a positive multiple of {Line} bytes.");
        if (!IsSupported || !OperatingSystem.IsLinux())
            throw new IOException($"no shared-memory path on this system ({RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture})");
        RemoveOrphans();
        nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        string path = System.IO.Path.Combine(SegmentDirectory,
            Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(nonce.AsSpan(0, 8)));
        long size = Size(worldSize, slotBytes);
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        try
        {
            // Writing the zeros allocates tmpfs pages now; a sparse file would only fail when first touched, with SIGBUS.
            var zeros = new byte[1024 * 1024];
            for (long written = 0; written < size; written += zeros.Length)
                stream.Write(zeros, 0, (int)Math.Min(zeros.Length, size - written));
            stream.Flush();
        }
        catch (IOException e)
        {
            stream.Dispose();
            File.Delete(path);
            throw new IOException($"{SegmentDirectory} has no room for {size / (1024 * 1024.0):F0} MiB ({e.Message})", e);
        }
        var file = MemoryMappedFile.CreateFromFile(stream, null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        var segment = new SharedMemoryAllReduce(file, path, 0, worldSize, slotBytes);
        *(long*)(segment._base + 8) = slotBytes;
        *(int*)(segment._base + 16) = Version;
        *(int*)(segment._base + 20) = worldSize;
        nonce.CopyTo(new Span<byte>(segment._base + 24, NonceBytes));
        Volatile.Write(ref *(long*)segment._base, Magic);
        return segment;
    }

    /// <summary>
    /// Another rank's half: maps the segment rank 0 created, after checking that it is the one rank 0 announced (its
    /// nonce) for a group of this size. Fails when the rank runs on another host or in another /dev/shm.
    /// </summary>
    /// <exception cref="IOException">The segment is missing, unreadable or not this group's.</exception>
    public static SharedMemoryAllReduce Open(string path, ReadOnlySpan<byte> nonce, int worldSize, int rank)
    {
        if (!IsSupported) throw new IOException($"no shared-memory path on this system ({RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture})");
        if (System.IO.Path.GetDirectoryName(path) != SegmentDirectory || !System.IO.Path.GetFileName(path).StartsWith(Prefix, StringComparison.Ordinal))
            throw new IOException($"'{path}' is not a collective segment");
        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        long slotBytes;
        try
        {
            Span<byte> header = stackalloc byte[24 + NonceBytes];
            stream.ReadExactly(header);
            slotBytes = BitConverter.ToInt64(header[8..]);
            if (BitConverter.ToInt64(header) != Magic || BitConverter.ToInt32(header[16..]) != Version
                || BitConverter.ToInt32(header[20..]) != worldSize || !header[24..].SequenceEqual(nonce)
                || slotBytes < Line || slotBytes % Line != 0 || slotBytes > int.MaxValue || stream.Length != Size(worldSize, slotBytes))
                throw new IOException($"'{path}' is not this group's segment (another host's file of the same name, or a stale one)");
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        var file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        return new SharedMemoryAllReduce(file, path, rank, worldSize, slotBytes);
    }

    /// <summary>Removes the segment's name once every rank has mapped it: the memory lives on until the last unmaps,
    /// and a rank killed later leaves nothing behind.</summary>
    public void Unlink()
    {
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Replaces <paramref name="buffer"/> with the sum or mean over the ranks. Every rank calls it with the same
    /// <paramref name="sequence"/> and length; blocks until done.
    /// </summary>
    /// <param name="fault">Cancelled when the group fails: a wait then ends with <see cref="OperationCanceledException"/>.</param>
    /// <param name="stray">Checked while waiting: what a peer sent around the ring meanwhile (so some rank runs another
    /// collective), or null.</param>
    /// <exception cref="RankMismatchException">A rank passed another length, operation or sequence number.</exception>
    public void Run(Span<float> buffer, ReduceOp op, long sequence, CancellationToken fault, Func<string?>? stray = null)
    {
        Interlocked.Increment(ref _users);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            RunPieces(buffer, op, sequence, fault, stray);
        }
        finally
        {
            Leave();
        }
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref _users) == 0 && Volatile.Read(ref _disposed) != 0) Release();
    }

    private void RunPieces(Span<float> buffer, ReduceOp op, long sequence, CancellationToken fault, Func<string?>? stray)
    {
        int pieces = Pieces(buffer.Length);
        for (int piece = 0; piece < pieces; piece++)
        {
            PublishPiece(buffer, op, sequence, piece);
            CompletePiece(buffer, op, sequence, piece, fault, stray);
        }
    }

    /// <summary>Whether an all-reduce of <paramref name="length"/> floats is one piece, so <see cref="Begin"/> can publish all of it.</summary>
    public bool FitsOnePiece(int length) => length <= _slotFloats;

    /// <summary>
    /// The first half of a one-piece all-reduce: copies this rank's buffer into its slot and tells the others. Never
    /// waits; the caller computes something else, then calls <see cref="End"/> with the same arguments.
    /// </summary>
    public void Begin(ReadOnlySpan<float> buffer, ReduceOp op, long sequence)
    {
        Debug.Assert(FitsOnePiece(buffer.Length));
        Interlocked.Increment(ref _users);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            PublishPiece(buffer, op, sequence, 0);
        }
        catch
        {
            Leave();
            throw;
        }
    }

    /// <summary>The second half: waits until every rank has published and writes the result into <paramref name="buffer"/>.</summary>
    public void End(Span<float> buffer, ReduceOp op, long sequence, CancellationToken fault, Func<string?>? stray = null)
    {
        try
        {
            CompletePiece(buffer, op, sequence, 0, fault, stray);
        }
        finally
        {
            Leave();
        }
    }

    // At least one piece: ranks that disagree on the length meet and find out even when one of them passes nothing.
    private int Pieces(int length) => Math.Max(1, (int)(((long)length + _slotFloats - 1) / _slotFloats));

    private void PublishPiece(ReadOnlySpan<float> buffer, ReduceOp op, long sequence, int piece)
    {
        long k = ++_pieces;
        int set = (int)(k & 1);
        int start = piece * _slotFloats;
        int count = Math.Min(_slotFloats, buffer.Length - start);
        buffer.Slice(start, count).CopyTo(Slot(set, _rank));
        var meta = Meta(_rank, set);
        meta->Sequence = sequence;
        meta->Length = buffer.Length;
        meta->Piece = piece;
        meta->Op = (int)op;
        Publish(Arrived(_rank), k);
    }

    private void CompletePiece(Span<float> buffer, ReduceOp op, long sequence, int piece, CancellationToken fault, Func<string?>? stray)
    {
        int n = _worldSize;
        int length = buffer.Length;
        long k = _pieces;
        int set = (int)(k & 1);
        int start = piece * _slotFloats;
        int count = Math.Min(_slotFloats, length - start);
        for (int r = 0; r < n; r++)
        {
            if (r == _rank) continue;
            WaitFor(Arrived(r), k, fault, stray, sequence, op, length);
            var theirs = Meta(r, set);
            if (theirs->Sequence != sequence || theirs->Length != length || theirs->Piece != piece || theirs->Op != (int)op)
                throw new RankMismatchException(
                    $"rank {r} entered collective #{theirs->Sequence} ({Describe((ReduceOp)theirs->Op, theirs->Length)}) where rank {_rank} " +
                    $"entered collective #{sequence} ({Describe(op, length)}): the ranks called different collectives or passed buffers of different lengths");
        }
        Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        var layout = new RingLayout(length, n, 1);
        if (n > 2 && count > TwoPhaseMinimum)
        {
            // Own segment, in place in this rank's slot (the others read only their own segments of it).
            var (offset, segmentCount) = Overlap(layout.Segment(_rank), start, count);
            if (segmentCount > 0) Sum(Slot(set, _rank).Slice(offset - start, segmentCount), inPlace: true, set, _rank, offset - start, op);
            Publish(Reduced(_rank), k);
            for (int r = 0; r < n; r++)
            {
                if (r != _rank) WaitFor(Reduced(r), k, fault, stray, sequence, op, length);
            }
            for (int s = 0; s < n; s++)
            {
                (offset, segmentCount) = Overlap(layout.Segment(s), start, count);
                if (segmentCount > 0) Slot(set, s).Slice(offset - start, segmentCount).CopyTo(buffer.Slice(offset, segmentCount));
            }
        }
        else
        {
            for (int s = 0; s < n; s++)
            {
                var (offset, segmentCount) = Overlap(layout.Segment(s), start, count);
                if (segmentCount > 0) Sum(buffer.Slice(offset, segmentCount), inPlace: false, set, s, offset - start, op);
            }
        }
        Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
    }

    /// <summary>The lowest rank that has not yet published its part of the piece in flight (in the second meeting of
    /// a two-phase piece: its summed segment), or -1 when none lags.</summary>
    public int Laggard()
    {
        Interlocked.Increment(ref _users);
        try
        {
            if (Volatile.Read(ref _disposed) != 0) return -1;
            long k = Volatile.Read(ref _pieces);
            bool secondMeeting = Volatile.Read(ref *Reduced(_rank)) == k;
            for (int r = 0; r < _worldSize; r++)
            {
                if (Volatile.Read(ref *(secondMeeting ? Reduced(r) : Arrived(r))) < k) return r;
            }
            return -1;
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>Unmaps the segment, at once or when the collective still running ends.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (Volatile.Read(ref _users) == 0) Release();
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    /// <summary>
    /// dest = x[owner] + x[owner+1] + ... (in ring order, each sum rounded), / n after the last term for an average;
    /// the terms are the ranks' slots at <paramref name="at"/>. In place: dest already is x[owner]'s slot.
    /// </summary>
    private void Sum(Span<float> destination, bool inPlace, int set, int owner, int at, ReduceOp op)
    {
        int n = _worldSize;
        int count = destination.Length;
        if (!inPlace) Slot(set, owner).Slice(at, count).CopyTo(destination);
        for (int j = 1; j < n; j++)
        {
            var term = MemoryMarshal.AsBytes(Slot(set, (owner + j) % n).Slice(at, count));
            if (j == n - 1 && op == ReduceOp.Average) FloatReduction.AddThenDivide(destination, term, n);
            else FloatReduction.Add(destination, term);
        }
    }

    private void WaitFor(long* word, long k, CancellationToken fault, Func<string?>? stray, long sequence, ReduceOp op, int length)
    {
        int spins = 0;
        while (true)
        {
            long seen = Volatile.Read(ref *word);
            if (seen >= k) return;
            if (spins++ < Spins)
            {
                Thread.SpinWait(32);
                continue;
            }
            fault.ThrowIfCancellationRequested();
            if (stray?.Invoke() is { } other)
                throw new RankMismatchException(
                    $"{other} while rank {_rank} runs collective #{sequence} ({Describe(op, length)}) through shared memory: the ranks called different collectives");
            // The futex compares the low 32 bits, which change with every increment of the 64-bit value.
            Futex.Wait((int*)word, (int)seen, WaitSliceMilliseconds);
        }
    }

    private static void Publish(long* word, long value)
    {
        Volatile.Write(ref *word, value);
        Futex.WakeAll((int*)word);
    }

    private long* Arrived(int rank) => (long*)(_base + HeaderBytes + 2L * rank * Line);

    private long* Reduced(int rank) => (long*)(_base + HeaderBytes + (2L * rank + 1) * Line);

    private PieceMeta* Meta(int rank, int set) => (PieceMeta*)(_base + MetaOffset(_worldSize) + ((long)rank * Sets + set) * Line);

    private Span<float> Slot(int set, int rank) => new(_base + _dataOffset + ((long)set * _worldSize + rank) * _slotBytes, _slotFloats);

    private static (int Offset, int Count) Overlap((int Offset, int Count) segment, int start, int count)
    {
        int from = Math.Max(segment.Offset, start);
        int to = Math.Min(segment.Offset + segment.Count, start + count);
        return (from, Math.Max(0, to - from));
    }

    private static string Describe(ReduceOp op, long length) =>
        $"{(op == ReduceOp.Sum ? "sum" : op == ReduceOp.Average ? "average" : "unknown")} all-reduce of {length * sizeof(float)} bytes";

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>
    /// Deletes segments left by processes killed between creating and unlinking one. Only old ones: containers of one
    /// pod share /dev/shm but not process ids, so a live creator can look absent; setup unlinks within its timeout.
    /// </summary>
    private static void RemoveOrphans()
    {
        try
        {
            foreach (string file in Directory.EnumerateFiles(SegmentDirectory, Prefix + "*"))
            {
                string name = System.IO.Path.GetFileName(file);
                int dash = name.IndexOf('-', Prefix.Length);
                if (dash > 0 && int.TryParse(name.AsSpan(Prefix.Length, dash - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                    && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture))
                    && DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > OrphanAge)
                    File.Delete(file);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another user's or a vanished file: not ours to clean.
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PieceMeta
    {
        public long Sequence;
        public long Length;
        public int Piece;
        public int Op;
    }
}
