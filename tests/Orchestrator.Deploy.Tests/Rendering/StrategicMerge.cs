using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>
/// The part of Kubernetes' strategic merge patch these manifests use: maps merge recursively, a null deletes a key,
/// lists with a patch merge key (containers, env, volumes, ...) merge item by item, every other list is replaced.
/// </summary>
public static class StrategicMerge
{
    // Merge keys from the Kubernetes API's x-kubernetes-patch-merge-key, for the lists that pod specs,
    // Services and RBAC objects hold.
    private static readonly Dictionary<string, string> MergeKeys = new()
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["ephemeralContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
        ["volumeDevices"] = "devicePath",
        ["imagePullSecrets"] = "name",
        ["hostAliases"] = "ip",
    };

    public static void Apply(YamlMappingNode target, YamlMappingNode patch)
    {
        foreach (var (keyNode, value) in patch.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value!;
            if (key.StartsWith("$patch", StringComparison.Ordinal) || key.StartsWith("$setElementOrder", StringComparison.Ordinal))
                throw new NotSupportedException($"strategic merge directive {key}");
            if (Yaml.IsNull(value))
            {
                target.Children.Remove(keyNode);
                continue;
            }
            var existing = target.Get(key);
            if (existing is YamlMappingNode targetMap && value is YamlMappingNode patchMap)
                Apply(targetMap, patchMap);
            else if (existing is YamlSequenceNode targetList && value is YamlSequenceNode patchList && MergeKeyOf(key, patchList) is { } mergeKey)
                MergeList(targetList, patchList, mergeKey);
            else
                target.Children[new YamlScalarNode(key)] = Yaml.Clone(value);
        }
    }

    private static string? MergeKeyOf(string key, YamlSequenceNode list)
    {
        if (MergeKeys.TryGetValue(key, out var mergeKey)) return mergeKey;
        // Container ports merge on containerPort, Service ports on port.
        if (key == "ports")
            return list.Maps().All(m => m.Get("containerPort") is not null) ? "containerPort" : "port";
        return null;
    }

    private static void MergeList(YamlSequenceNode target, YamlSequenceNode patch, string mergeKey)
    {
        foreach (var item in patch.Maps())
        {
            var id = item.Str(mergeKey) ?? throw new InvalidDataException($"a patched list item has no {mergeKey}");
            var match = target.Maps().FirstOrDefault(t => t.Str(mergeKey) == id);
            if (match is null) target.Add(Yaml.Clone(item));
            else Apply(match, item);
        }
    }
}
