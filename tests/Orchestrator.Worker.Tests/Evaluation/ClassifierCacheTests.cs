using Orchestrator.Worker.Evaluation;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Tests.Evaluation;

[Collection(TrainedClassifierCollection.Name)]
public class ClassifierCacheTests(TrainedClassifierFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Classifier_trained_on_the_bundled_subset_reaches_98_percent_held_out_accuracy()
    {
        var classifier = fixture.Classifier;
        output.WriteLine($"held-out accuracy {classifier.HeldOutAccuracy:P2} after {classifier.Epochs} epochs in {classifier.TrainingTime.TotalSeconds:F1} s");

        Assert.False(classifier.LoadedFromCache);
        Assert.True(classifier.HeldOutAccuracy >= 0.98, $"held-out accuracy {classifier.HeldOutAccuracy:P2}");
        // Recomputed here so the check does not rest on the number the cache reports about itself.
        using var scope = torch.NewDisposeScope();
        var (images, labels) = MnistSubset.HeldOut;
        double accuracy = classifier.Predict(images).eq(labels).to(float64).mean().item<double>();
        Assert.True(accuracy >= 0.98, $"recomputed held-out accuracy {accuracy:P2}");
    }

    [Fact]
    public void A_second_call_loads_the_cached_weights_without_retraining()
    {
        var weightsWritten = File.GetLastWriteTimeUtc(fixture.Classifier.WeightsPath);
        var (images, labels) = MnistSubset.Train;
        var (heldOutImages, heldOutLabels) = MnistSubset.HeldOut;

        using var again = ClassifierCache.LoadOrTrain(images, labels, heldOutImages, heldOutLabels, fixture.CacheDirectory);

        Assert.True(again.LoadedFromCache);
        Assert.Equal(fixture.Classifier.WeightsPath, again.WeightsPath);
        Assert.Equal(weightsWritten, File.GetLastWriteTimeUtc(again.WeightsPath));
        Assert.Equal(fixture.Classifier.HeldOutAccuracy, again.HeldOutAccuracy);
        Assert.Equal(fixture.Classifier.Epochs, again.Epochs);
        using var scope = torch.NewDisposeScope();
        Assert.True(fixture.Classifier.Predict(heldOutImages).eq(again.Predict(heldOutImages)).all().item<bool>());
        Assert.Single(Directory.GetFiles(fixture.CacheDirectory, "*.weights"));
        Assert.Empty(Directory.GetFiles(fixture.CacheDirectory, "*.tmp"));
    }

    [Fact]
    public void Predictions_and_features_agree_with_the_module()
    {
        using var scope = torch.NewDisposeScope();
        var images = MnistSubset.HeldOut.Images.narrow(0, 0, 700);
        var classifier = fixture.Classifier;

        var features = classifier.Features(images);
        var predicted = classifier.Predict(images);

        Assert.Equal([700L, DigitClassifier.FeatureCount], features.shape);
        using (torch.no_grad())
        {
            Assert.True(predicted.eq(classifier.Module.forward(images).argmax(1)).all().item<bool>());
            Assert.True(features.allclose(classifier.Module.Features(images), rtol: 1e-5, atol: 1e-6));
        }
    }

    [Fact]
    public void Training_that_cannot_reach_98_percent_fails_and_caches_nothing()
    {
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator(7, torch.CPU);
        // Random labels cannot be learned for unseen images: held-out accuracy stays near chance for every epoch.
        var images = MnistSubset.Train.Images.narrow(0, 0, 64);
        var labels = torch.randint(0, 10, [64], dtype: int64, generator: generator);
        var heldOutImages = MnistSubset.HeldOut.Images.narrow(0, 0, 64);
        var heldOutLabels = torch.randint(0, 10, [64], dtype: int64, generator: generator);
        var directory = Path.Combine(Path.GetTempPath(), "orchestrator-classifier-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => ClassifierCache.LoadOrTrain(images, labels, heldOutImages, heldOutLabels, directory));

            Assert.Contains("98%", error.Message);
            Assert.False(Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any());
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Default_directory_follows_xdg_cache_home()
    {
        var expected = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } root
            ? root
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");

        Assert.Equal(Path.Combine(expected, "orchestrator", "classifiers"), ClassifierCache.DefaultDirectory);
    }
}
