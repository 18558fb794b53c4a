using Orchestrator.Worker.Data;

namespace Orchestrator.Worker.Tests.Data;

public sealed class IdxFileTests : IDisposable
{
    private readonly IdxWriter _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Idx_reader_reads_raw_images_and_labels()
    {
        var imagesPath = _files.Write("images", IdxWriter.Images(3, rows: 4, columns: 5));
        var labelsPath = _files.Write("labels", IdxWriter.Labels(7, 0, 9));

        var images = IdxFile.ReadImages(imagesPath);
        var labels = IdxFile.ReadLabels(labelsPath);

        Assert.Equal((3, 4, 5), (images.Count, images.Rows, images.Columns));
        Assert.Equal(IdxWriter.Images(3, rows: 4, columns: 5)[16..], images.Pixels.ToArray());
        Assert.Equal(new byte[] { 7, 0, 9 }, labels.ToArray());
    }

    [Fact]
    public void Idx_reader_reads_gzip_compressed_files_like_raw_ones()
    {
        var raw = IdxWriter.Images(2);
        var imagesPath = _files.Write("images.gz", IdxWriter.Gzip(raw));
        var labelsPath = _files.Write("labels.gz", IdxWriter.Gzip(IdxWriter.Labels(3, 4)));

        var images = IdxFile.ReadImages(imagesPath);

        Assert.Equal((2, 28, 28), (images.Count, images.Rows, images.Columns));
        Assert.Equal(raw[16..], images.Pixels.ToArray());
        Assert.Equal(new byte[] { 3, 4 }, IdxFile.ReadLabels(labelsPath).ToArray());
    }

    [Fact]
    public void Idx_locate_prefers_the_raw_file_and_falls_back_to_gz()
    {
        var gz = _files.Write("a-ubyte.gz", IdxWriter.Gzip(IdxWriter.Labels(1)));
        Assert.Equal(gz, IdxFile.Locate(_files.DirectoryPath, "a-ubyte"));

        var raw = _files.Write("a-ubyte", IdxWriter.Labels(1));
        Assert.Equal(raw, IdxFile.Locate(_files.DirectoryPath, "a-ubyte"));
    }

    [Fact]
    public void Idx_locate_rejects_a_missing_file_naming_both_candidates()
    {
        var e = Assert.Throws<DataFormatException>(() => IdxFile.Locate(_files.DirectoryPath, "train-images-idx3-ubyte"));

        Assert.Equal(Path.Combine(_files.DirectoryPath, "train-images-idx3-ubyte"), e.FilePath);
        Assert.Contains("not found", e.Message);
        Assert.Contains("train-images-idx3-ubyte.gz", e.Message);
    }

    [Fact]
    public void Idx_reader_rejects_a_missing_file_naming_the_file()
    {
        var path = Path.Combine(_files.DirectoryPath, "absent-images");

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("not found", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_a_header_shorter_than_expected_naming_the_file()
    {
        // Rank 3 needs 16 header bytes; cut after the magic and two dimensions.
        var path = _files.Write("short-header", IdxWriter.Images(1)[..12]);

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("16-byte IDX header", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_a_bad_magic_number_naming_the_file()
    {
        // A labels file offered as images: the magic says 1 dimension, not 3.
        var path = _files.Write("labels-as-images", IdxWriter.Labels(1, 2, 3, 4, 5, 6, 7, 8, 9));

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.Contains("bad magic number 0x00000801", e.Problem);
        Assert.Contains("0x00000803", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_truncated_image_data_naming_the_file()
    {
        var bytes = IdxWriter.Images(3);
        var path = _files.Write("truncated-images", bytes[..^100]);

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("truncated", e.Problem);
        Assert.Contains("3 images of 28x28", e.Problem);
        Assert.Contains($"holds {bytes.Length - 100}", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_truncated_label_data_naming_the_file()
    {
        var path = _files.Write("truncated-labels", IdxWriter.Labels(1, 2, 3)[..^1]);

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadLabels(path));

        Assert.Equal(path, e.FilePath);
        Assert.Contains("truncated", e.Problem);
        Assert.Contains("3 labels", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_trailing_bytes_naming_the_file()
    {
        var path = _files.Write("trailing-images", [.. IdxWriter.Images(2), 1, 2, 3]);

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("3 trailing bytes", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_corrupt_gzip_naming_the_file()
    {
        var gz = IdxWriter.Gzip(IdxWriter.Images(2));
        // Keep the gzip signature so the reader takes it for gzip, then garble the deflate stream.
        for (int i = 10; i < gz.Length; i++) gz[i] = 0xFF;
        var path = _files.Write("corrupt-images.gz", gz);

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("gzip", e.Problem);
    }

    [Fact]
    public void Idx_reader_rejects_a_cut_off_gzip_stream_naming_the_file()
    {
        var gz = IdxWriter.Gzip(IdxWriter.Images(20));
        var path = _files.Write("cut-images.gz", gz[..(gz.Length / 2)]);

        var e = Assert.Throws<DataFormatException>(() => IdxFile.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        // Either the gzip layer notices the missing end or the IDX layer notices the missing pixels.
        Assert.Matches("gzip|truncated", e.Problem);
    }
}
