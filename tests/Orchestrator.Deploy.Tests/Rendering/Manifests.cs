using System.Diagnostics;
using k8s;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>One kustomization as rendered: the YAML objects and the same objects typed by KubernetesClient.</summary>
public sealed record Rendering(string Name, string Directory, List<YamlMappingNode> Resources, List<object> Typed,
    Dictionary<(string Kind, string Name), string> GeneratedNames)
{
    public override string ToString() => Name;

    public IEnumerable<YamlMappingNode> OfKind(string kind) => Resources.Where(r => r.Str("kind") == kind);

    public YamlMappingNode Single(string kind, string name) =>
        OfKind(kind).Single(r => r.At("metadata")!.Str("name") == name);

    /// <summary>The generated object that was named <paramref name="name"/> before its hash suffix.</summary>
    public YamlMappingNode Generated(string kind, string name) =>
        OfKind(kind).Single(r => GeneratedNames.TryGetValue((kind, r.At("metadata")!.Str("name")!), out var original) && original == name);

    public IEnumerable<YamlMappingNode> Workloads => Resources.Where(r => Kustomize.PodSpec(r) is not null);
}

/// <summary>
/// Renders k8s/base and every overlay once per test run, from a copy of k8s/ whose secret files were written by
/// k8s/generate-secrets.sh (a fresh clone has none, and the developer's own never leave their directory).
/// </summary>
public sealed class Manifests : IDisposable
{
    public static readonly string[] Names = ["base", "cpu", "gpu"];

    private readonly string _copy;

    public Manifests()
    {
        _copy = Path.Combine(Path.GetTempPath(), "orchestrator-deploy-tests-" + Guid.NewGuid().ToString("N"));
        CopyDirectory(Repository.PathOf("k8s"), _copy);
        var secrets = Path.Combine(_copy, "base", "secrets");
        foreach (var file in Directory.EnumerateFiles(secrets).Where(f => Path.GetFileName(f) != ".gitignore")) File.Delete(file);
        GenerateSecretsOutput = Run("bash", Path.Combine(_copy, "generate-secrets.sh"), secrets);
        SecretsDirectory = secrets;

        foreach (var name in Names)
        {
            var directory = name == "base" ? Path.Combine(_copy, "base") : Path.Combine(_copy, "overlays", name);
            var output = Kustomize.Build(directory);
            var typed = KubernetesYaml.LoadAllFromString(Yaml.Save(output.Resources), typeMap: null, strict: true).ToList();
            Renderings[name] = new Rendering(name, directory, output.Resources, typed, output.GeneratedNames);
        }
    }

    public Dictionary<string, Rendering> Renderings { get; } = [];

    /// <summary>Where the copy's generated secret files are.</summary>
    public string SecretsDirectory { get; }

    public string GenerateSecretsOutput { get; }

    /// <summary>The copy of k8s/ (with generated secrets) that was rendered.</summary>
    public string CopyRoot => _copy;

    public Rendering this[string name] => Renderings[name];

    public static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in 120 s");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.EnumerateDirectories(from)) CopyDirectory(dir, Path.Combine(to, Path.GetFileName(dir)));
    }

    public void Dispose()
    {
        try { Directory.Delete(_copy, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class ManifestsCollection : ICollectionFixture<Manifests>
{
    public const string Name = "manifests";
}
