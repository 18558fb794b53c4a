using System.Text.RegularExpressions;
using Orchestrator.Deploy.Tests.Rendering;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests;

/// <summary>`kubectl kustomize` renders the same objects as the tests' renderer.</summary>
[Collection(ManifestsCollection.Name)]
public sealed class KubectlCrossCheckTests(Manifests manifests)
{
    private static readonly string? Kubectl = Environment.GetEnvironmentVariable("PATH")?.Split(':')
        .Select(d => Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists);

    public static TheoryData<string> Renderings => new(Manifests.Names);

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Kubectl_kustomize_renders_the_same_objects(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        // scripts/test.sh installs kubectl when it is missing; without it this comparison cannot be made, and a
        // pass would claim what was not checked.
        Assert.True(Kubectl is not null, "kubectl is not on PATH: install it (scripts/test.sh does) so the renderer can be checked against kubectl kustomize");
        var rendering = manifests[name];
        var theirs = Yaml.LoadDocuments(Manifests.Run(Kubectl, "kustomize", rendering.Directory), "kubectl kustomize");
        var generated = rendering.GeneratedNames.Values.Distinct().ToList();
        string Canonical(YamlMappingNode resource)
        {
            var text = Normalize(resource);
            // Generated names carry a content hash that differs between the two renderers: mask it.
            foreach (var original in generated) text = Regex.Replace(text, $@"\b{Regex.Escape(original)}-[a-z0-9]{{10}}\b", original + "-HASH");
            return text;
        }
        var mine = rendering.Resources.Select(Canonical).Order().ToList();
        var kubectl = theirs.Select(Canonical).Order().ToList();
        Assert.Equal(kubectl.Count, mine.Count);
        for (var i = 0; i < mine.Count; i++) Assert.Equal(kubectl[i], mine[i]);
    }

    /// <summary>A YAML tree as text with mapping keys sorted and scalars unquoted, so that styles do not matter.</summary>
    private static string Normalize(YamlNode node) => node switch
    {
        YamlMappingNode m => "{" + string.Join(",", m.Children.OrderBy(c => ((YamlScalarNode)c.Key).Value, StringComparer.Ordinal)
            .Select(c => ((YamlScalarNode)c.Key).Value + ":" + Normalize(c.Value))) + "}",
        YamlSequenceNode s => "[" + string.Join(",", s.Children.Select(Normalize)) + "]",
        YamlScalarNode s => System.Text.Json.JsonSerializer.Serialize(s.Value),
        _ => "?",
    };
}
