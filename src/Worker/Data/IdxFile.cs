using System.Buffers.Binary;
using System.IO.Compression;

namespace Orchestrator.Worker.Data;

/// <summary>Reads IDX files (the MNIST format), raw or gzip-compressed, checking magic, dimensions and length.</summary>
public static class IdxFile
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an unsigned-byte rank-3 IDX file: (count, rows, columns) and the pixels row-major.</summary>
    public static IdxImages ReadImages(string path)
    {
        var bytes = ReadAll(path);
        var dims = ReadHeader(path, bytes, ImagesMagic, rank: 3);
        int count = dims[0], rows = dims[1], columns = dims[2];
        if (rows == 0 || columns == 0)
            throw new DataFormatException(path, $"image dimensions {rows}x{columns} must be positive");
        long expected = 16 + (long)count * rows * columns;
        CheckLength(path, bytes, expected, $"{count} images of {rows}x{columns}");
        return new IdxImages(count, rows, columns, bytes.AsMemory(16, (int)(expected - 16)));
    }

    /// <summary>Reads an unsigned-byte rank-1 IDX file of labels.</summary>
    public static ReadOnlyMemory<byte> ReadLabels(string path)
    {
        var bytes = ReadAll(path);
        var dims = ReadHeader(path, bytes, LabelsMagic, rank: 1);
        CheckLength(path, bytes, 8L + dims[0], $"{dims[0]} labels");
        return bytes.AsMemory(8, dims[0]);
    }

    /// <summary>Finds `name` or `name.gz` in a directory; the error names both candidates.</summary>
    public static string Locate(string directory, string name)
    {
        var raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        if (File.Exists(raw + ".gz")) return raw + ".gz";
        throw new DataFormatException(raw, $"file not found (looked for {name} and {name}.gz in {directory})");
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> head = stackalloc byte[2];
            int n = file.ReadAtLeast(head, 2, throwOnEndOfStream: false);
            file.Position = 0;
            bool gzip = n == 2 && head[0] == 0x1f && head[1] == 0x8b;
            using var input = gzip ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
            using var buffer = new MemoryStream();
            input.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"corrupt gzip stream ({e.Message})");
        }
        catch (EndOfStreamException)
        {
            throw new DataFormatException(path, "truncated gzip stream");
        }
    }

    private static int[] ReadHeader(string path, byte[] bytes, int magic, int rank)
    {
        int headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength)
            throw new DataFormatException(path, $"truncated: {bytes.Length} bytes is shorter than the {headerLength}-byte IDX header");
        int found = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (found != magic)
        {
            var what = magic == ImagesMagic ? "images (unsigned bytes, 3 dimensions)" : "labels (unsigned bytes, 1 dimension)";
            throw new DataFormatException(path, $"bad magic number 0x{found:X8}; expected 0x{magic:X8} for IDX {what}");
        }
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] < 0) throw new DataFormatException(path, $"dimension {i} is negative ({dims[i]})");
        }
        return dims;
    }

    private static void CheckLength(string path, byte[] bytes, long expected, string what)
    {
        if (bytes.Length < expected)
            throw new DataFormatException(path, $"truncated: header promises {what} ({expected} bytes) but the file holds {bytes.Length}");
        if (bytes.Length > expected)
            throw new DataFormatException(path, $"{bytes.Length - expected} trailing bytes after {what}");
    }
}

/// <summary>Images read from an IDX file: row-major unsigned bytes.</summary>
public sealed record IdxImages(int Count, int Rows, int Columns, ReadOnlyMemory<byte> Pixels);
