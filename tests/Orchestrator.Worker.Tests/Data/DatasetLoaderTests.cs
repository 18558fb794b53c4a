using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Data;

public sealed class DatasetLoaderTests : IDisposable
{
    private readonly IdxWriter _files = new();

    public void Dispose() => _files.Dispose();

    private DataSpec MnistSpec => new() { Dataset = Datasets.Mnist, Path = _files.DirectoryPath };

    [Fact]
    public void Mnist_loader_reads_raw_and_gz_files_as_images_scaled_to_minus_one_one()
    {
        var raw = IdxWriter.Images(3);
        _files.Write("train-images-idx3-ubyte", raw);
        _files.Write("train-labels-idx1-ubyte.gz", IdxWriter.Gzip(IdxWriter.Labels(5, 0, 9)));

        using var data = DatasetLoader.LoadTrain(MnistSpec, seed: 1);

        Assert.Equal(new long[] { 3, 1, 28, 28 }, data.Inputs.shape);
        Assert.Equal(ScalarType.Float32, data.Inputs.dtype);
        Assert.Equal(ScalarType.Int64, data.Labels.dtype);
        Assert.Equal(new long[] { 5, 0, 9 }, data.Labels.data<long>().ToArray());
        Assert.Equal(10, data.ClassCount);
        Assert.Null(data.Mixture);
        var expected = raw[16..].Select(b => (float)(b / 127.5 - 1.0)).ToArray();
        Assert.Equal(expected, data.Inputs.data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-6f);
        // Pixel values 0 and 255 both occur and land exactly on the ends of the range.
        Assert.Equal(-1f, data.Inputs.min().item<float>());
        Assert.Equal(1f, data.Inputs.max().item<float>());
    }

    [Fact]
    public void Mnist_loader_reads_t10k_files_for_held_out_data()
    {
        _files.Write("t10k-images-idx3-ubyte.gz", IdxWriter.Gzip(IdxWriter.Images(2)));
        _files.Write("t10k-labels-idx1-ubyte", IdxWriter.Labels(1, 2));

        using var data = DatasetLoader.LoadHeldOut(MnistSpec, seed: 1);

        Assert.Equal(2, data.Count);
        Assert.Equal(new long[] { 1, 2 }, data.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Mnist_loader_rejects_image_and_label_count_mismatch_naming_the_file()
    {
        var images = _files.Write("train-images-idx3-ubyte", IdxWriter.Images(3));
        var labels = _files.Write("train-labels-idx1-ubyte", IdxWriter.Labels(1, 2));

        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.LoadTrain(MnistSpec, seed: 1));

        Assert.Equal(labels, e.FilePath);
        Assert.StartsWith(labels, e.Message);
        Assert.Contains("2 labels", e.Problem);
        Assert.Contains($"{images} holds 3 images", e.Problem);
    }

    [Fact]
    public void Mnist_loader_rejects_labels_outside_0_to_9_naming_the_file()
    {
        _files.Write("train-images-idx3-ubyte", IdxWriter.Images(3));
        var labels = _files.Write("train-labels-idx1-ubyte", IdxWriter.Labels(1, 10, 2));

        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.LoadTrain(MnistSpec, seed: 1));

        Assert.Equal(labels, e.FilePath);
        Assert.Contains("label 10 at index 1", e.Problem);
    }

    [Fact]
    public void Mnist_loader_rejects_images_that_are_not_28x28_naming_the_file()
    {
        var images = _files.Write("train-images-idx3-ubyte", IdxWriter.Images(2, rows: 32, columns: 32));
        _files.Write("train-labels-idx1-ubyte", IdxWriter.Labels(1, 2));

        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.LoadTrain(MnistSpec, seed: 1));

        Assert.Equal(images, e.FilePath);
        Assert.Contains("32x32", e.Problem);
    }

    [Fact]
    public void Mnist_loader_rejects_a_missing_labels_file_naming_it()
    {
        _files.Write("train-images-idx3-ubyte", IdxWriter.Images(2));

        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.LoadTrain(MnistSpec, seed: 1));

        Assert.Equal(Path.Combine(_files.DirectoryPath, "train-labels-idx1-ubyte"), e.FilePath);
        Assert.Contains("not found", e.Problem);
    }

    [Fact]
    public void Mnist_loader_passes_on_idx_errors_naming_the_broken_file()
    {
        var images = _files.Write("train-images-idx3-ubyte", IdxWriter.Images(2)[..^1]);
        _files.Write("train-labels-idx1-ubyte", IdxWriter.Labels(1, 2));

        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.LoadTrain(MnistSpec, seed: 1));

        Assert.Equal(images, e.FilePath);
        Assert.Contains("truncated", e.Problem);
    }

    [Fact]
    public void Mnist_loader_requires_a_path()
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetLoader.LoadTrain(new DataSpec { Dataset = Datasets.Mnist }, seed: 1));

        Assert.Contains("data.path", e.Message);
    }

    [Fact]
    public void Loader_rejects_an_unknown_dataset_listing_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetLoader.LoadTrain(new DataSpec { Dataset = "cifar10" }, seed: 1));

        Assert.Contains("cifar10", e.Message);
        Assert.Contains("mnist_subset", e.Message);
    }

    [Fact]
    public void Bundled_subset_loads_8337_train_and_1663_held_out_digits_of_10_classes_in_minus_one_one()
    {
        var spec = new DataSpec { Dataset = Datasets.MnistSubset };
        using var train = DatasetLoader.LoadTrain(spec, seed: 1);
        using var heldOut = DatasetLoader.LoadHeldOut(spec, seed: 1);

        Assert.Equal(new long[] { 8_337, 1, 28, 28 }, train.Inputs.shape);
        Assert.Equal(new long[] { 1_663, 1, 28, 28 }, heldOut.Inputs.shape);
        foreach (var data in new[] { train, heldOut })
        {
            Assert.Equal(10, data.ClassCount);
            Assert.True(data.IsImage);
            Assert.Equal(-1f, data.Inputs.min().item<float>());
            Assert.Equal(1f, data.Inputs.max().item<float>());
            // Every class is present: the split holds out every 6th digit within each class.
            using var counts = data.Labels.bincount(null);
            Assert.Equal(10, counts.shape[0]);
            Assert.True(counts.min().item<long>() > 0);
        }
    }

    [Fact]
    public void Bundled_subset_loader_reports_a_missing_bundle_naming_the_directory()
    {
        var missing = Path.Combine(_files.DirectoryPath, "no-such-bundle");

        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.LoadBundledSubset(missing, heldOut: false));

        Assert.Equal(missing, e.FilePath);
        Assert.Contains("bundled MNIST subset not found", e.Problem);
    }

    [Fact]
    public void Mixture_training_data_has_the_spec_size_and_held_out_data_is_a_fresh_draw_with_seed_plus_one()
    {
        var spec = new DataSpec { Dataset = Datasets.Grid25, MixtureSize = 3_000 };

        using var train = DatasetLoader.LoadTrain(spec, seed: 42);
        using var heldOut = DatasetLoader.LoadHeldOut(spec, seed: 42);
        using var sameAsTrain = MixtureDatasets.Grid25(3_000, seed: 42);
        using var sameAsHeldOut = MixtureDatasets.Grid25(DatasetLoader.HeldOutMixtureSize, seed: 43);

        Assert.Equal(3_000, train.Count);
        Assert.Equal(2_500, heldOut.Count);
        Assert.Equal(sameAsTrain.Inputs.data<float>().ToArray(), train.Inputs.data<float>().ToArray());
        Assert.Equal(sameAsHeldOut.Inputs.data<float>().ToArray(), heldOut.Inputs.data<float>().ToArray());
        Assert.NotEqual(train.Inputs.data<float>().ToArray()[..5_000], heldOut.Inputs.data<float>().ToArray());
        Assert.Equal(25, heldOut.ClassCount);
    }

    [Fact]
    public void Resize_makes_64x64_images_in_range_keeping_labels_and_leaving_the_input_intact()
    {
        _files.Write("train-images-idx3-ubyte", IdxWriter.Images(4));
        _files.Write("train-labels-idx1-ubyte", IdxWriter.Labels(3, 1, 4, 1));
        using var data = DatasetLoader.LoadTrain(MnistSpec, seed: 1);

        using var resized = DatasetLoader.Resize(data, 64);

        Assert.Equal(new long[] { 4, 1, 64, 64 }, resized.Inputs.shape);
        Assert.Equal(new long[] { 3, 1, 4, 1 }, resized.Labels.data<long>().ToArray());
        Assert.Equal(10, resized.ClassCount);
        Assert.True(resized.Inputs.min().item<float>() >= -1f);
        Assert.True(resized.Inputs.max().item<float>() <= 1f);
        // Resizing back approximately recovers the original: the images were interpolated, not replaced.
        using var back = nn.functional.interpolate(resized.Inputs, size: [28, 28], mode: InterpolationMode.Bilinear, align_corners: false);
        Assert.True((back - data.Inputs).abs().mean().item<float>() < 0.25f);
        Assert.Equal(new long[] { 4, 1, 28, 28 }, data.Inputs.shape);
        Assert.Equal(new long[] { 3, 1, 4, 1 }, data.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Resize_rejects_point_data()
    {
        using var ring = MixtureDatasets.Ring8(10, seed: 1);

        Assert.Throws<ArgumentException>(() => DatasetLoader.Resize(ring, 64));
    }
}
