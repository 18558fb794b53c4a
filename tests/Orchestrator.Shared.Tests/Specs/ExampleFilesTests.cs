using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Tests.Specs;

public sealed class ExampleFilesTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Orchestrator.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Orchestrator.sln above {AppContext.BaseDirectory}");
    }

    private static string[] ExampleNames() =>
        Directory.GetFiles(Path.Combine(RepositoryRoot(), "examples"), "*.yaml").Select(f => Path.GetFileName(f)).Order().ToArray();

    public static TheoryData<string> Examples() => new(ExampleNames());

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_example_trial_file_is_valid(string name)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot(), "examples", name));
        var spec = TrialSpecReader.FromYaml(text, name);
        Assert.True(spec.Training.Steps > 0);
    }

    [Fact]
    public void There_are_examples_for_mixtures_and_images()
    {
        var names = ExampleNames();
        Assert.Contains(names, n => n.StartsWith("ring8", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("grid25", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("mnist", StringComparison.Ordinal));
    }
}
