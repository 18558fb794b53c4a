using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Shared.Tests.Sweeps;

public sealed class ExampleSweepsTests
{
    private static string SweepsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Orchestrator.sln"))) return Path.Combine(dir.FullName, "examples", "sweeps");
        throw new DirectoryNotFoundException($"no Orchestrator.sln above {AppContext.BaseDirectory}");
    }

    public static TheoryData<string> Examples() =>
        new(Directory.GetFiles(SweepsDirectory(), "*.yaml").Select(f => Path.GetFileName(f)).Order().ToArray());

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_example_sweep_file_is_valid(string name)
    {
        var spec = SweepSpecReader.FromYaml(File.ReadAllText(Path.Combine(SweepsDirectory(), name)), name);
        Assert.NotEmpty(spec.Parameters);
    }
}
