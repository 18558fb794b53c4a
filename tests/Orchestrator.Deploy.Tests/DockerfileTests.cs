using System.Text.RegularExpressions;
using System.Xml.Linq;
using Orchestrator.Deploy.Tests.Rendering;

namespace Orchestrator.Deploy.Tests;

/// <summary>The Dockerfiles, which cannot be built here, agree with the repository and with the manifests.</summary>
[Collection(ManifestsCollection.Name)]
public sealed partial class DockerfileTests(Manifests manifests)
{
    /// <summary>Image (as the manifests name it), Dockerfile, the project it publishes and the entry point.</summary>
    public static TheoryData<string, string, string, string> Images => new()
    {
        { "orchestrator/coordinator", "coordinator.Dockerfile", "src/Coordinator/Orchestrator.Coordinator.csproj", "Orchestrator.Coordinator.dll" },
        { "orchestrator/worker", "worker.Dockerfile", "src/Cli/Orchestrator.Cli.csproj", "/app/orchestrator" },
        { "orchestrator/worker-cuda", "worker-cuda.Dockerfile", "src/Cli/Orchestrator.Cli.csproj", "/app/orchestrator" },
    };

    private static List<string> Instructions(string dockerfile)
    {
        var text = File.ReadAllText(Repository.PathOf($"k8s/images/{dockerfile}")).Replace("\\\n", " ", StringComparison.Ordinal);
        return text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#').ToList();
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Dockerfile_builds_from_official_images_and_runs_non_root(string image, string dockerfile, string project, string entry)
    {
        _ = image;
        var lines = Instructions(dockerfile);
        var froms = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.True(froms.Count >= 2, "multi-stage");
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", froms[0]);
        Assert.Matches(@"^FROM (mcr\.microsoft\.com/dotnet/aspnet:10\.0|\$\{CUDA_IMAGE\}) AS final$", froms[^1]);
        var final = lines.Skip(lines.IndexOf(froms[^1])).ToList();
        var user = final.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))[5..].Trim();
        Assert.True(user is "$APP_UID" or "1654", $"final stage runs as {user}");
        Assert.Contains(lines, l => l.StartsWith("RUN dotnet publish " + project, StringComparison.Ordinal));
        Assert.Contains(final, l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal) && l.Contains($"\"{entry}\"", StringComparison.Ordinal));
        if (dockerfile.Contains("cuda", StringComparison.Ordinal))
            Assert.Contains(lines, l => l.Contains("-p:TorchBackend=cuda", StringComparison.Ordinal));
        else
            Assert.DoesNotContain(lines, l => l.Contains("-p:TorchBackend=cuda", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Entry_point_is_what_the_project_builds(string image, string dockerfile, string project, string entry)
    {
        _ = (image, dockerfile);
        var csproj = XDocument.Load(Repository.PathOf(project));
        var assembly = csproj.Descendants("AssemblyName").FirstOrDefault()?.Value ?? Path.GetFileNameWithoutExtension(project);
        Assert.Equal(Path.GetFileName(entry), entry.EndsWith(".dll", StringComparison.Ordinal) ? assembly + ".dll" : assembly);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Every_copied_path_exists_and_is_sent_in_the_build_context(string image, string dockerfile, string project, string entry)
    {
        _ = (image, project, entry);
        var ignored = File.ReadAllLines(Repository.PathOf(".dockerignore")).Select(l => l.Trim())
            .Where(l => l.Length > 0 && l[0] != '#' && l[0] != '!').Select(l => l.TrimEnd('/')).ToList();
        foreach (var line in Instructions(dockerfile).Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1];
            foreach (var source in parts)
            {
                Assert.True(File.Exists(Repository.PathOf(source)) || Directory.Exists(Repository.PathOf(source)), $"{dockerfile}: COPY {source} does not exist");
                var path = source.TrimEnd('/');
                Assert.DoesNotContain(ignored, pattern => path == pattern || path.StartsWith(pattern + "/", StringComparison.Ordinal));
            }
        }
        // Every project the published one references is copied (restore needs their project files).
        var copied = string.Join("\n", Instructions(dockerfile));
        foreach (var reference in ProjectClosure(project)) Assert.Contains(reference, copied);
    }

    private static HashSet<string> ProjectClosure(string project)
    {
        var result = new HashSet<string>();
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var current))
        {
            if (!result.Add(current)) continue;
            var dir = Path.GetDirectoryName(current)!;
            foreach (var reference in XDocument.Load(Repository.PathOf(current)).Descendants("ProjectReference"))
                pending.Push(Path.GetRelativePath(Repository.Root, Path.GetFullPath(Path.Combine(Repository.PathOf(dir), reference.Attribute("Include")!.Value))));
        }
        return result;
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Exposed_ports_are_the_manifests_container_ports(string image, string dockerfile, string project, string entry)
    {
        _ = (project, entry);
        var exposed = Instructions(dockerfile).Where(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))
            .SelectMany(l => l[7..].Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToHashSet();
        var containers = manifests.Renderings.Values.SelectMany(Pods.AllContainers)
            .Where(c => Kustomize.SplitImage(c.Container.Str("image")!).Name == image).ToList();
        Assert.NotEmpty(containers);
        foreach (var (_, container) in containers)
        {
            var declared = Pods.Ports(container).Values.ToHashSet();
            Assert.Subset(declared, exposed);
        }
    }

    [Fact]
    public void Readme_builds_every_image_under_the_tag_the_overlays_deploy()
    {
        var readme = File.ReadAllText(Repository.PathOf("k8s/README.md"));
        foreach (var rendering in manifests.Renderings.Values)
        {
            foreach (var (_, container) in Pods.AllContainers(rendering).Where(c => c.Container.Str("image")!.StartsWith("orchestrator/", StringComparison.Ordinal)))
            {
                var (name, _) = Kustomize.SplitImage(container.Str("image")!);
                var dockerfile = name["orchestrator/".Length..] + ".Dockerfile";
                Assert.Matches(BuildLine(dockerfile, container.Str("image")!), readme);
            }
        }
    }

    private static Regex BuildLine(string dockerfile, string tag) =>
        new($@"docker build -f k8s/images/{Regex.Escape(dockerfile)}\s+-t {Regex.Escape(tag)} \.");
}
