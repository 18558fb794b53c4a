using System.Buffers.Binary;
using System.IO.Compression;

namespace Orchestrator.Worker.Tests.Data;

/// <summary>Builds IDX files (and deliberately broken ones) in a private temporary directory.</summary>
internal sealed class IdxWriter : IDisposable
{
    public IdxWriter() => Directory.CreateDirectory(DirectoryPath);

    public string DirectoryPath { get; } = Path.Combine(Path.GetTempPath(), "orchestrator-idx-" + Guid.NewGuid().ToString("N"));

    /// <summary>Images whose pixel p of image n is (n * 7 + p) mod 256, so every image differs.</summary>
    public static byte[] Images(int count, int rows = 28, int columns = 28)
    {
        var bytes = new byte[16 + count * rows * columns];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        for (int n = 0; n < count; n++)
            for (int p = 0; p < rows * columns; p++)
                bytes[16 + n * rows * columns + p] = (byte)((n * 7 + p) % 256);
        return bytes;
    }

    public static byte[] Labels(params byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
            gzip.Write(bytes);
        return buffer.ToArray();
    }

    public string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(DirectoryPath, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(DirectoryPath, recursive: true); }
        catch (IOException) { }
    }
}
