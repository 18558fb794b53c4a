using Orchestrator.Shared.Specs;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Data;

/// <summary>Turns a trial's <see cref="DataSpec"/> into in-memory training and held-out data.</summary>
public static class DatasetLoader
{
    /// <summary>Held-out points for mixtures: the evaluation protocol's sample count, so real and generated sets match in size.</summary>
    public const int HeldOutMixtureSize = 2_500;
    public const int MnistSide = 28;
    public const int MnistClasses = 10;

    /// <summary>Where the build puts the bundled 10,000-digit subset (see Data/MnistSubset/NOTICE).</summary>
    public static string BundledSubsetDirectory => Path.Combine(AppContext.BaseDirectory, "data", "mnist-subset");

    /// <summary>The training set. The seed draws mixture points; image datasets are fixed files and ignore it.</summary>
    public static TrainingData LoadTrain(DataSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Dataset switch
        {
            Datasets.Ring8 => MixtureDatasets.Ring8(spec.MixtureSize, seed),
            Datasets.Grid25 => MixtureDatasets.Grid25(spec.MixtureSize, seed),
            Datasets.Mnist => LoadMnistDirectory(RequirePath(spec), heldOut: false),
            Datasets.MnistSubset => LoadBundledSubset(BundledSubsetDirectory, heldOut: false),
            _ => throw UnknownDataset(spec),
        };
    }

    /// <summary>
    /// Data the model never trains on, for evaluation: MNIST's t10k files, the subset's held-out split, or for
    /// mixtures a fresh draw with seed + 1 (the training draw uses seed).
    /// </summary>
    public static TrainingData LoadHeldOut(DataSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Dataset switch
        {
            Datasets.Ring8 => MixtureDatasets.Ring8(HeldOutMixtureSize, unchecked(seed + 1)),
            Datasets.Grid25 => MixtureDatasets.Grid25(HeldOutMixtureSize, unchecked(seed + 1)),
            Datasets.Mnist => LoadMnistDirectory(RequirePath(spec), heldOut: true),
            Datasets.MnistSubset => LoadBundledSubset(BundledSubsetDirectory, heldOut: true),
            _ => throw UnknownDataset(spec),
        };
    }

    /// <summary>MNIST as distributed: train-*-ubyte or t10k-*-ubyte in a directory, each raw or .gz.</summary>
    public static TrainingData LoadMnistDirectory(string directory, bool heldOut)
    {
        string prefix = heldOut ? "t10k" : "train";
        return LoadIdxPair(
            IdxFile.Locate(directory, $"{prefix}-images-idx3-ubyte"),
            IdxFile.Locate(directory, $"{prefix}-labels-idx1-ubyte"),
            heldOut ? "mnist-heldout" : "mnist");
    }

    /// <summary>The bundled subset's layout: {train,heldout}-{images-idx3,labels-idx1}-ubyte.gz in one directory.</summary>
    public static TrainingData LoadBundledSubset(string directory, bool heldOut)
    {
        if (!Directory.Exists(directory))
            throw new DataFormatException(directory,
                "bundled MNIST subset not found: the directory is missing; it ships beside the worker's binaries as data/mnist-subset");
        string prefix = heldOut ? "heldout" : "train";
        return LoadIdxPair(
            IdxFile.Locate(directory, $"{prefix}-images-idx3-ubyte"),
            IdxFile.Locate(directory, $"{prefix}-labels-idx1-ubyte"),
            heldOut ? "mnist_subset-heldout" : "mnist_subset");
    }

    /// <summary>
    /// One images file and its labels file as float32 [N, 1, 28, 28] in [-1, 1] (the generator's tanh range)
    /// and int64 labels 0..9.
    /// </summary>
    public static TrainingData LoadIdxPair(string imagesPath, string labelsPath, string name)
    {
        var images = IdxFile.ReadImages(imagesPath);
        if (images.Rows != MnistSide || images.Columns != MnistSide)
            throw new DataFormatException(imagesPath,
                $"images are {images.Rows}x{images.Columns}; MNIST digits are {MnistSide}x{MnistSide}");
        var labelBytes = IdxFile.ReadLabels(labelsPath);
        if (labelBytes.Length != images.Count)
            throw new DataFormatException(labelsPath,
                $"holds {labelBytes.Length} labels but {imagesPath} holds {images.Count} images");
        if (images.Count == 0)
            throw new DataFormatException(imagesPath, "holds no images");

        var labels = new long[labelBytes.Length];
        var span = labelBytes.Span;
        for (int i = 0; i < span.Length; i++)
        {
            if (span[i] >= MnistClasses)
                throw new DataFormatException(labelsPath,
                    $"label {span[i]} at index {i} is outside 0..{MnistClasses - 1}");
            labels[i] = span[i];
        }

        using var scope = NewDisposeScope();
        using var pixels = tensor(images.Pixels.ToArray(), [images.Count, 1, MnistSide, MnistSide]);
        // x / 127.5 - 1 maps 0 to -1 and 255 to 1 exactly.
        var inputs = pixels.to_type(ScalarType.Float32).div_(127.5).sub_(1.0);
        var labelTensor = tensor(labels);
        // The tensors belong to the returned TrainingData, which disposes them.
        return new TrainingData(name, inputs.DetachFromDisposeScope(), labelTensor.DetachFromDisposeScope(), MnistClasses);
    }

    /// <summary>
    /// Images resized to side x side by bilinear interpolation (e.g. 28 to 64 for the 64x64 DCGAN); labels are
    /// kept. A new TrainingData: the input is left as it was and still belongs to the caller.
    /// </summary>
    public static TrainingData Resize(TrainingData images, int side)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 1);
        if (!images.IsImage)
            throw new ArgumentException($"{images.Name} holds points of shape [{string.Join(", ", images.SampleShape)}], not images", nameof(images));

        using var scope = NewDisposeScope();
        // align_corners false matches torchvision's Resize; bilinear weights are convex, so values stay in [-1, 1].
        var resized = nn.functional.interpolate(images.Inputs, size: [side, side], mode: InterpolationMode.Bilinear, align_corners: false);
        var labels = images.Labels.clone();
        return new TrainingData($"{images.Name}@{side}", resized.DetachFromDisposeScope(), labels.DetachFromDisposeScope(),
            images.ClassCount, images.Mixture);
    }

    private static string RequirePath(DataSpec spec) =>
        string.IsNullOrWhiteSpace(spec.Path)
            ? throw new ArgumentException($"dataset {spec.Dataset} needs data.path: the directory holding its IDX files", nameof(spec))
            : spec.Path;

    private static ArgumentException UnknownDataset(DataSpec spec) =>
        new($"unknown dataset '{spec.Dataset}'; expected one of {string.Join(", ", Datasets.All)}", nameof(spec));
}
