using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>Reading pods, containers and their environment out of rendered workloads.</summary>
public static class Pods
{
    public static string Name(YamlMappingNode resource) => resource.At("metadata")!.Str("name")!;

    public static YamlMappingNode Labels(YamlMappingNode workload) =>
        workload.At("spec.template.metadata.labels") ?? new YamlMappingNode();

    public static YamlMappingNode Container(Rendering rendering, string workloadKind, string workload, string container) =>
        Kustomize.Containers(rendering.Single(workloadKind, workload)).Single(c => c.Str("name") == container);

    public static IEnumerable<(YamlMappingNode Workload, YamlMappingNode Container)> AllContainers(Rendering rendering) =>
        rendering.Workloads.SelectMany(w => Kustomize.Containers(w).Select(c => (w, c)));

    /// <summary>Literal env values by name; null for valueFrom entries.</summary>
    public static Dictionary<string, string?> Env(YamlMappingNode container) =>
        container.Seq("env").Maps().ToDictionary(e => e.Str("name")!, e => e.Str("value"));

    public static List<string> Args(YamlMappingNode container) =>
        container.Seq("command").Strings().Concat(container.Seq("args").Strings()).ToList();

    /// <summary>Container ports by name (unnamed ones under their number).</summary>
    public static Dictionary<string, int> Ports(YamlMappingNode container) =>
        container.Seq("ports").Maps().ToDictionary(p => p.Str("name") ?? p.Str("containerPort")!, p => int.Parse(p.Str("containerPort")!));

    /// <summary>Whether every label of <paramref name="selector"/> is on <paramref name="labels"/>.</summary>
    public static bool Selects(YamlMappingNode selector, YamlMappingNode labels) =>
        selector.Children.Count > 0 && selector.Children.All(kv => labels.Str(((YamlScalarNode)kv.Key).Value!) == ((YamlScalarNode)kv.Value).Value);

    /// <summary>The workloads whose pods a Service's selector picks.</summary>
    public static List<YamlMappingNode> Selected(Rendering rendering, YamlMappingNode service) =>
        rendering.Workloads.Where(w => service.At("spec.selector") is { } s && Selects(s, Labels(w))).ToList();

    /// <summary>The port a probe's handler targets, resolved to a number through the container's named ports.</summary>
    public static int? ProbePort(YamlMappingNode container, YamlMappingNode probe)
    {
        var handler = probe.Map("httpGet") ?? probe.Map("grpc") ?? probe.Map("tcpSocket");
        if (handler?.Str("port") is not { } port) return null;
        return int.TryParse(port, out var number) ? number : Ports(container).TryGetValue(port, out var named) ? named : -1;
    }
}
