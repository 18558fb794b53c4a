using System.Security.Cryptography;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>
/// The subset of kustomize that k8s/ uses, so that the tests render the base and the overlays without kubectl:
/// resources (files and directories), namespace, labels, images, patches (strategic merge, the target named by
/// the patch itself), configMapGenerator and secretGenerator (files and literals, name hash suffix, references
/// renamed). Any other kustomization field fails the build of that directory, so the subset cannot silently
/// drift from what the manifests use. Where kubectl is installed, a test compares this output with
/// `kubectl kustomize`.
/// </summary>
public static class Kustomize
{
    private static readonly HashSet<string> Supported =
    [
        "apiVersion", "kind", "namespace", "labels", "resources", "patches", "images",
        "configMapGenerator", "secretGenerator", "generatorOptions",
    ];

    private static readonly HashSet<string> ClusterScoped =
    [
        "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "CustomResourceDefinition",
        "PriorityClass", "IngressClass", "RuntimeClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    ];

    /// <summary>The name a generator gave before its hash suffix, for each generated (kind, name).</summary>
    public sealed record Output(List<YamlMappingNode> Resources, Dictionary<(string Kind, string Name), string> GeneratedNames);

    public static Output Build(string directory)
    {
        var path = Path.Combine(directory, "kustomization.yaml");
        var kustomization = Yaml.LoadSingle(path);
        foreach (var key in kustomization.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!))
        {
            if (!Supported.Contains(key)) throw new NotSupportedException($"{path}: kustomization field '{key}' is outside the tests' renderer");
        }

        var resources = new List<YamlMappingNode>();
        var generated = new Dictionary<(string, string), string>();
        foreach (var entry in kustomization.Seq("resources").Strings())
        {
            var full = Path.GetFullPath(Path.Combine(directory, entry));
            if (Directory.Exists(full))
            {
                var child = Build(full);
                resources.AddRange(child.Resources);
                foreach (var (k, v) in child.GeneratedNames) generated[k] = v;
            }
            else
            {
                resources.AddRange(Yaml.LoadDocuments(File.ReadAllText(full), full));
            }
        }

        var hashNames = kustomization.Map("generatorOptions")?.Str("disableNameSuffixHash") != "true";
        var renames = new Dictionary<(string Kind, string Name), string>();
        foreach (var generator in kustomization.Seq("configMapGenerator").Maps())
            resources.Add(Generate(directory, generator, "ConfigMap", hashNames, renames, generated));
        foreach (var generator in kustomization.Seq("secretGenerator").Maps())
            resources.Add(Generate(directory, generator, "Secret", hashNames, renames, generated));

        foreach (var patch in kustomization.Seq("patches").Maps()) ApplyPatch(directory, patch, resources);

        if (kustomization.Str("namespace") is { } ns) SetNamespace(resources, ns);
        foreach (var labels in kustomization.Seq("labels").Maps()) AddLabels(resources, labels);
        foreach (var image in kustomization.Seq("images").Maps())
        {
            foreach (var container in resources.SelectMany(Containers)) SetImage(container, image);
        }
        RenameReferences(resources, renames);
        return new Output(resources, generated);
    }

    private static YamlMappingNode Generate(string directory, YamlMappingNode generator, string kind, bool hashName,
        Dictionary<(string, string), string> renames, Dictionary<(string, string), string> generated)
    {
        var name = generator.Str("name") ?? throw new InvalidDataException($"a {kind} generator without a name in {directory}");
        foreach (var key in generator.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!))
        {
            if (key is not ("name" or "files" or "literals")) throw new NotSupportedException($"{kind} generator field '{key}'");
        }
        var data = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in generator.Seq("files").Strings())
        {
            var (key, relative) = file.Split('=', 2) is [var k, var p] ? (k, p) : (Path.GetFileName(file), file);
            var full = Path.Combine(directory, relative);
            if (!File.Exists(full)) throw new FileNotFoundException($"{kind} {name} reads {full}, which is missing", full);
            data.Add(key, File.ReadAllText(full));
        }
        foreach (var literal in generator.Seq("literals").Strings())
        {
            var parts = literal.Split('=', 2);
            data.Add(parts[0], parts.Length == 2 ? parts[1] : "");
        }

        var dataNode = new YamlMappingNode();
        foreach (var (key, value) in data)
        {
            dataNode.Add(key, kind == "Secret" ? Convert.ToBase64String(Encoding.UTF8.GetBytes(value)) : value);
        }
        var finalName = name;
        if (hashName)
        {
            // Not kustomize's own hash (the tests compare kubectl's output with the suffix masked): any content
            // hash gives the property that matters, a new name and so a rollout whenever the content changes.
            var digest = SHA256.HashData(Encoding.UTF8.GetBytes(kind + "\n" + string.Join("\n", data.Select(d => d.Key + "=" + d.Value))));
            finalName = $"{name}-{Convert.ToHexStringLower(digest)[..10]}";
        }
        renames[(kind, name)] = finalName;
        generated[(kind, finalName)] = name;

        var resource = new YamlMappingNode
        {
            { "apiVersion", "v1" },
            { "kind", kind },
            { "metadata", new YamlMappingNode { { "name", finalName } } },
        };
        if (kind == "Secret") resource.Add("type", "Opaque");
        resource.Add("data", dataNode);
        return resource;
    }

    private static void ApplyPatch(string directory, YamlMappingNode entry, List<YamlMappingNode> resources)
    {
        if (entry.Get("target") is not null) throw new NotSupportedException("patches with a target selector");
        var patches = entry.Str("path") is { } file
            ? Yaml.LoadDocuments(File.ReadAllText(Path.Combine(directory, file)), Path.Combine(directory, file))
            : Yaml.LoadDocuments(entry.Str("patch") ?? throw new InvalidDataException("a patch with neither path nor patch"), "inline patch");
        foreach (var patch in patches)
        {
            var kind = patch.Str("kind");
            var name = patch.At("metadata")?.Str("name");
            var matches = resources.Where(r => r.Str("kind") == kind && r.At("metadata")?.Str("name") == name).ToList();
            if (matches.Count != 1) throw new InvalidDataException($"patch for {kind} {name} matches {matches.Count} resources");
            StrategicMerge.Apply(matches[0], patch);
        }
    }

    private static void SetNamespace(List<YamlMappingNode> resources, string ns)
    {
        foreach (var resource in resources)
        {
            var kind = resource.Str("kind")!;
            if (!ClusterScoped.Contains(kind)) resource.Ensure("metadata").Set("namespace", ns);
            if (kind is "RoleBinding" or "ClusterRoleBinding")
            {
                foreach (var subject in resource.Seq("subjects").Maps().Where(s => s.Str("kind") == "ServiceAccount"))
                    subject.Set("namespace", ns);
            }
        }
    }

    private static void AddLabels(List<YamlMappingNode> resources, YamlMappingNode entry)
    {
        foreach (var key in entry.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!))
        {
            if (key is not ("pairs" or "includeSelectors" or "includeTemplates")) throw new NotSupportedException($"labels field '{key}'");
        }
        var pairs = entry.Map("pairs")!;
        var selectors = entry.Str("includeSelectors") == "true";
        var templates = selectors || entry.Str("includeTemplates") == "true";
        foreach (var resource in resources)
        {
            var targets = new List<YamlMappingNode> { resource.Ensure("metadata").Ensure("labels") };
            if (templates && resource.At("spec.template") is { } template) targets.Add(template.Ensure("metadata").Ensure("labels"));
            if (selectors)
            {
                if (resource.Str("kind") == "Service") targets.Add(resource.Ensure("spec").Ensure("selector"));
                else if (resource.At("spec.selector") is { } selector) targets.Add(selector.Ensure("matchLabels"));
            }
            foreach (var target in targets)
            {
                foreach (var (k, v) in pairs.Children) target.Children[Yaml.Clone(k)] = Yaml.Clone(v);
            }
        }
    }

    /// <summary>The pod spec of a workload (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob), or null.</summary>
    public static YamlMappingNode? PodSpec(YamlMappingNode resource) => resource.Str("kind") switch
    {
        "Pod" => resource.Map("spec"),
        "CronJob" => resource.At("spec.jobTemplate.spec.template.spec"),
        _ => resource.At("spec.template.spec"),
    };

    public static IEnumerable<YamlMappingNode> Containers(YamlMappingNode resource)
    {
        if (PodSpec(resource) is not { } spec) return [];
        return spec.Seq("initContainers").Maps().Concat(spec.Seq("containers").Maps());
    }

    private static void SetImage(YamlMappingNode container, YamlMappingNode image)
    {
        var current = container.Str("image");
        if (current is null) return;
        var (name, tag) = SplitImage(current);
        if (name != image.Str("name")) return;
        name = image.Str("newName") ?? name;
        if (image.Str("digest") is { } digest) tag = "@" + digest;
        else if (image.Str("newTag") is { } newTag) tag = ":" + newTag;
        container.Set("image", name + tag);
    }

    /// <summary>An image reference as its name and its ":tag" or "@digest" (empty when it has neither).</summary>
    public static (string Name, string Tag) SplitImage(string image)
    {
        var at = image.IndexOf('@');
        if (at >= 0) return (image[..at], image[at..]);
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[colon..]) : (image, "");
    }

    private static void RenameReferences(List<YamlMappingNode> resources, Dictionary<(string Kind, string Name), string> renames)
    {
        if (renames.Count == 0) return;
        void Rename(YamlMappingNode? node, string field, string kind)
        {
            if (node?.Str(field) is { } name && renames.TryGetValue((kind, name), out var renamed)) node.Set(field, renamed);
        }
        foreach (var resource in resources)
        {
            if (PodSpec(resource) is not { } spec) continue;
            foreach (var volume in spec.Seq("volumes").Maps())
            {
                Rename(volume.Map("configMap"), "name", "ConfigMap");
                Rename(volume.Map("secret"), "secretName", "Secret");
                foreach (var source in volume.Map("projected")?.Seq("sources").Maps() ?? [])
                {
                    Rename(source.Map("configMap"), "name", "ConfigMap");
                    Rename(source.Map("secret"), "name", "Secret");
                }
            }
            foreach (var pullSecret in spec.Seq("imagePullSecrets").Maps()) Rename(pullSecret, "name", "Secret");
            foreach (var container in Containers(resource))
            {
                foreach (var env in container.Seq("env").Maps())
                {
                    Rename(env.At("valueFrom.configMapKeyRef"), "name", "ConfigMap");
                    Rename(env.At("valueFrom.secretKeyRef"), "name", "Secret");
                }
                foreach (var envFrom in container.Seq("envFrom").Maps())
                {
                    Rename(envFrom.Map("configMapRef"), "name", "ConfigMap");
                    Rename(envFrom.Map("secretRef"), "name", "Secret");
                }
            }
        }
    }
}
