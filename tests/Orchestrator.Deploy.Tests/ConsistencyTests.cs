using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Deploy.Tests.Rendering;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests;

/// <summary>The manifests agree with the code: ports, environment, command lines, Service selectors and references.</summary>
[Collection(ManifestsCollection.Name)]
public sealed partial class ConsistencyTests(Manifests manifests)
{
    public static TheoryData<string> Renderings => new(Manifests.Names);

    private static CoordinatorOptions BindCoordinatorOptions(YamlMappingNode container)
    {
        // The environment configuration provider maps A__B to A:B; literal values only (secrets are not options).
        var values = Pods.Env(container)
            .Where(e => e.Value is not null && e.Key.Contains("__", StringComparison.Ordinal))
            .ToDictionary(e => e.Key.Replace("__", ":", StringComparison.Ordinal), e => e.Value);
        var options = new CoordinatorOptions();
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(CoordinatorOptions.Section).Bind(options);
        return options;
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Coordinator_container_ports_are_the_ports_it_listens_on(string name)
    {
        var container = Pods.Container(manifests[name], "StatefulSet", "coordinator", "coordinator");
        var options = BindCoordinatorOptions(container);
        Assert.Equal(CodeFacts.CoordinatorPorts(options).OrderBy(p => p.Key), Pods.Ports(container).OrderBy(p => p.Key));
        Assert.Equal(options.GrpcPort, Pods.ProbePort(container, container.Map("readinessProbe")!));
        Assert.NotNull(container.At("readinessProbe.grpc"));
        Assert.Equal(options.HttpPort, Pods.ProbePort(container, container.Map("livenessProbe")!));
        Assert.Equal("/alive", container.At("livenessProbe.httpGet")!.Str("path"));
        Assert.Equal(options.HttpPort, Pods.ProbePort(container, container.Map("startupProbe")!));
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Coordinator_environment_holds_only_variables_it_reads(string name)
    {
        var container = Pods.Container(manifests[name], "StatefulSet", "coordinator", "coordinator");
        AssertVariablesRead(container, CodeFacts.CoordinatorVariables());
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Worker_environment_holds_only_variables_it_reads(string name)
    {
        var container = Pods.Container(manifests[name], "Deployment", "worker", "worker");
        AssertVariablesRead(container, CodeFacts.WorkerVariables());
    }

    private static void AssertVariablesRead(YamlMappingNode container, HashSet<string> allowed)
    {
        // A variable also counts as used when the manifest itself substitutes it, $(NAME), into the command line
        // or another variable (the worker's --collective-host=$(POD_IP)).
        var text = string.Join("\n", Pods.Args(container).Concat(Pods.Env(container).Values.OfType<string>()));
        var substituted = Substitution().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
        var errors = new List<string>();
        foreach (var (variable, value) in Pods.Env(container))
        {
            if (variable.Contains("__", StringComparison.Ordinal))
            {
                var property = CodeFacts.OptionProperty(variable);
                if (property is null) errors.Add($"{variable}: no CoordinatorOptions property binds to it");
                else if (value is not null && !CodeFacts.Converts(property, value)) errors.Add($"{variable}: '{value}' is not a {property.PropertyType.Name}");
            }
            else if (!allowed.Contains(variable) && !substituted.Contains(variable))
            {
                errors.Add($"{variable}: read by neither the app nor the manifest");
            }
        }
        Assert.Empty(errors);
    }

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Substitution();

    [Fact]
    public void The_environment_check_refuses_an_option_that_does_not_exist()
    {
        Assert.NotNull(CodeFacts.OptionProperty("Orchestrator__Cluster__Redis"));
        Assert.NotNull(CodeFacts.OptionProperty("orchestrator__grpcport"));
        Assert.Null(CodeFacts.OptionProperty("Orchestrator__Cluster__Reddis"));
        Assert.Null(CodeFacts.OptionProperty("Orchestrator__Cluster"));
        Assert.Contains("ORCHESTRATOR_JOIN_TOKEN", CodeFacts.WorkerVariables());
        Assert.Contains("ORCHESTRATOR_API_TOKEN", CodeFacts.CoordinatorVariables());
        Assert.Contains("ORLEANS_CLUSTER_ID", CodeFacts.CoordinatorVariables());
        Assert.DoesNotContain("ORLEANS_CLUSTER_ID", CodeFacts.WorkerVariables());
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Worker_command_line_is_one_the_worker_accepts_and_reaches_the_coordinator_service(string name)
    {
        var rendering = manifests[name];
        var container = Pods.Container(rendering, "Deployment", "worker", "worker");
        var args = Pods.Args(container);
        var parse = CodeFacts.OrchestratorCommand().Parse(args.ToArray());
        Assert.Empty(parse.Errors.Select(e => e.Message));
        Assert.Equal("worker", parse.CommandResult.Command.Name);

        var coordinator = new Uri(CodeFacts.WorkerOption<string>(args, "--coordinator")!);
        var service = rendering.Single("Service", coordinator.Host);
        var port = service.At("spec")!.Seq("ports").Maps().Single(p => p.Str("port") == coordinator.Port.ToString());
        var coordinatorContainer = Pods.Container(rendering, "StatefulSet", "coordinator", "coordinator");
        Assert.Contains(Pods.Selected(rendering, service), w => Pods.Name(w) == "coordinator");
        Assert.Equal(BindCoordinatorOptions(coordinatorContainer).GrpcPort, Pods.Ports(coordinatorContainer)[port.Str("targetPort")!]);

        // Peers dial slot i on the advertised host at collective-port + i: the pod IP, and a declared port each.
        Assert.Equal("$(POD_IP)", CodeFacts.WorkerOption<string>(args, "--collective-host"));
        Assert.Equal("status.podIP", container.Seq("env").Maps().Single(e => e.Str("name") == "POD_IP").At("valueFrom.fieldRef")!.Str("fieldPath"));
        var first = CodeFacts.WorkerOption<int>(args, "--collective-port");
        var slots = CodeFacts.WorkerOption<int>(args, "--slots");
        var declared = Pods.Ports(container).Values.ToHashSet();
        Assert.All(Enumerable.Range(first, slots), p => Assert.Contains(p, declared));
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Worker_metrics_port_is_the_one_the_worker_serves(string name)
    {
        var container = Pods.Container(manifests[name], "Deployment", "worker", "worker");
        var args = Pods.Args(container);
        var options = CodeFacts.OrchestratorCommand().Subcommands.Single(c => c.Name == "worker").Options.Select(o => o.Name).ToList();
        Assert.True(options.Contains("--metrics-port"),
            "`orchestrator worker` has no --metrics-port option (docs/telemetry.md: default 9464), so the manifests' metrics port and probes have nothing behind them");
        var port = CodeFacts.WorkerOption<int>(args, "--metrics-port");
        Assert.Equal(port, Pods.Ports(container)["metrics"]);
        Assert.Equal(port, Pods.ProbePort(container, container.Map("livenessProbe")!));
        Assert.Equal(port, Pods.ProbePort(container, container.Map("readinessProbe")!));
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Every_service_selects_pods_and_targets_their_ports(string name)
    {
        var rendering = manifests[name];
        foreach (var service in rendering.OfKind("Service"))
        {
            var selected = Pods.Selected(rendering, service);
            Assert.True(selected.Count > 0, $"Service {Pods.Name(service)} selects no pods");
            foreach (var port in service.At("spec")!.Seq("ports").Maps())
            {
                var target = port.Str("targetPort") ?? port.Str("port")!;
                foreach (var workload in selected)
                {
                    var ports = Kustomize.Containers(workload).SelectMany(c => Pods.Ports(c)).ToList();
                    Assert.True(int.TryParse(target, out var n) ? ports.Any(p => p.Value == n) : ports.Any(p => p.Key == target),
                        $"Service {Pods.Name(service)} port {port.Str("name")} targets {target}, which {Pods.Name(workload)} does not declare");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Workload_selectors_match_their_pod_templates(string name)
    {
        foreach (var workload in manifests[name].Workloads)
            Assert.True(Pods.Selects(workload.At("spec.selector.matchLabels")!, Pods.Labels(workload)), Pods.Name(workload));
        foreach (var pdb in manifests[name].OfKind("PodDisruptionBudget"))
            Assert.Contains(manifests[name].Workloads, w => Pods.Selects(pdb.At("spec.selector.matchLabels")!, Pods.Labels(w)));
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Secret_config_map_and_claim_references_resolve(string name)
    {
        var rendering = manifests[name];
        var secrets = rendering.OfKind("Secret").ToDictionary(Pods.Name, s => s.Map("data")!);
        var configMaps = rendering.OfKind("ConfigMap").ToDictionary(Pods.Name, s => s.Map("data")!);
        var claims = rendering.OfKind("PersistentVolumeClaim").Select(Pods.Name).ToHashSet();
        foreach (var (workload, container) in Pods.AllContainers(rendering))
        {
            foreach (var env in container.Seq("env").Maps())
            {
                if (env.At("valueFrom.secretKeyRef") is { } s)
                    Assert.True(secrets.TryGetValue(s.Str("name")!, out var data) && data.Get(s.Str("key")!) is not null, $"{Pods.Name(workload)}: secret {s.Str("name")}/{s.Str("key")}");
                if (env.At("valueFrom.configMapKeyRef") is { } c)
                    Assert.True(configMaps.TryGetValue(c.Str("name")!, out var data) && data.Get(c.Str("key")!) is not null, $"{Pods.Name(workload)}: config map {c.Str("name")}/{c.Str("key")}");
            }
            var volumes = Kustomize.PodSpec(workload)!.Seq("volumes").Maps().Select(v => v.Str("name")!)
                .Concat(workload.At("spec")!.Seq("volumeClaimTemplates").Maps().Select(t => t.At("metadata")!.Str("name")!)).ToHashSet();
            foreach (var mount in container.Seq("volumeMounts").Maps())
                Assert.True(volumes.Contains(mount.Str("name")!), $"{Pods.Name(workload)}: mount {mount.Str("name")} has no volume");
        }
        foreach (var workload in rendering.Workloads)
        {
            foreach (var volume in Kustomize.PodSpec(workload)!.Seq("volumes").Maps())
            {
                if (volume.At("configMap")?.Str("name") is { } cm) Assert.True(configMaps.ContainsKey(cm), $"{Pods.Name(workload)}: config map {cm}");
                if (volume.At("secret")?.Str("secretName") is { } sn) Assert.True(secrets.ContainsKey(sn), $"{Pods.Name(workload)}: secret {sn}");
                if (volume.At("persistentVolumeClaim")?.Str("claimName") is { } pvc) Assert.True(claims.Contains(pvc), $"{Pods.Name(workload)}: claim {pvc}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Coordinator_forms_one_orleans_cluster_over_redis_with_kubernetes_hosting(string name)
    {
        var rendering = manifests[name];
        var statefulSet = rendering.Single("StatefulSet", "coordinator");
        Assert.True(int.Parse(statefulSet.At("spec")!.Str("replicas")!) >= 2);
        var container = Pods.Container(rendering, "StatefulSet", "coordinator", "coordinator");
        var options = BindCoordinatorOptions(container);
        Assert.True(options.Cluster.Kubernetes);

        // Redis: a Service in front of the Redis pods, on the port given.
        var (host, port) = (options.Cluster.Redis!.Split(':')[0], int.Parse(options.Cluster.Redis.Split(':')[1]));
        var redis = rendering.Single("Service", host);
        Assert.Contains(redis.At("spec")!.Seq("ports").Maps(), p => p.Str("port") == port.ToString());
        Assert.Contains(Pods.Selected(rendering, redis), w => w.Str("kind") == "StatefulSet" && Pods.Name(w) == "redis");

        // Both tokens from a Secret: without them the coordinator would bind loopback only.
        var env = container.Seq("env").Maps().ToDictionary(e => e.Str("name")!);
        Assert.NotNull(env["ORCHESTRATOR_API_TOKEN"].At("valueFrom.secretKeyRef"));
        Assert.NotNull(env["ORCHESTRATOR_JOIN_TOKEN"].At("valueFrom.secretKeyRef"));

        // Microsoft.Orleans.Hosting.Kubernetes: the pod's identity, and the service/cluster ids from the pod labels.
        var labels = Pods.Labels(statefulSet);
        Assert.Equal("metadata.labels['orleans/serviceId']", env["ORLEANS_SERVICE_ID"].At("valueFrom.fieldRef")!.Str("fieldPath"));
        Assert.Equal("metadata.labels['orleans/clusterId']", env["ORLEANS_CLUSTER_ID"].At("valueFrom.fieldRef")!.Str("fieldPath"));
        Assert.False(string.IsNullOrEmpty(labels.Str("orleans/serviceId")));
        Assert.False(string.IsNullOrEmpty(labels.Str("orleans/clusterId")));
        Assert.Equal("metadata.name", env["POD_NAME"].At("valueFrom.fieldRef")!.Str("fieldPath"));
        Assert.Equal("metadata.namespace", env["POD_NAMESPACE"].At("valueFrom.fieldRef")!.Str("fieldPath"));
        Assert.Equal("status.podIP", env["POD_IP"].At("valueFrom.fieldRef")!.Str("fieldPath"));
        Assert.Superset(CodeFacts.OrleansKubernetesVariables(), env.Keys.ToHashSet());

        // Its service account may watch and delete the cluster's pods.
        var account = Kustomize.PodSpec(statefulSet)!.Str("serviceAccountName");
        Assert.Contains(rendering.OfKind("ServiceAccount"), a => Pods.Name(a) == account);
        var binding = rendering.OfKind("RoleBinding").Single(b => b.Seq("subjects").Maps().Any(s => s.Str("kind") == "ServiceAccount" && s.Str("name") == account));
        var role = rendering.Single("Role", binding.Map("roleRef")!.Str("name")!);
        var verbs = role.Seq("rules").Maps().Where(r => r.Seq("resources").Strings().Contains("pods") && r.Seq("apiGroups").Strings().Contains(""))
            .SelectMany(r => r.Seq("verbs").Strings()).ToHashSet();
        Assert.Subset(verbs, new HashSet<string> { "get", "list", "watch", "delete" });

        // Silo-to-silo: a headless Service naming the StatefulSet's pods, on the silo port.
        var silos = rendering.Single("Service", statefulSet.At("spec")!.Str("serviceName")!);
        Assert.Equal("None", silos.At("spec")!.Str("clusterIP"));
        Assert.Contains(silos.At("spec")!.Seq("ports").Maps(), p => p.Str("targetPort") == "silo");
        Assert.Contains(rendering.OfKind("PodDisruptionBudget"), p => Pods.Selects(p.At("spec.selector.matchLabels")!, labels));
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Writable_paths_are_volumes_under_a_read_only_root(string name)
    {
        var rendering = manifests[name];
        var coordinator = Pods.Container(rendering, "StatefulSet", "coordinator", "coordinator");
        var artifacts = BindCoordinatorOptions(coordinator).Artifacts.Path;
        var claim = Kustomize.PodSpec(rendering.Single("StatefulSet", "coordinator"))!.Seq("volumes").Maps()
            .Single(v => v.Str("name") == coordinator.Seq("volumeMounts").Maps().Single(m => m.Str("mountPath") == artifacts).Str("name"));
        Assert.Equal("artifacts", claim.At("persistentVolumeClaim")!.Str("claimName"));
        Assert.Contains(coordinator.Seq("volumeMounts").Maps(), m => m.Str("mountPath") == "/tmp");

        var worker = Pods.Container(rendering, "Deployment", "worker", "worker");
        var mounts = worker.Seq("volumeMounts").Maps().Select(m => m.Str("mountPath")).ToHashSet();
        Assert.Contains(CodeFacts.WorkerOption<DirectoryInfo>(Pods.Args(worker), "--work-dir")!.FullName, mounts);
        Assert.Contains(Pods.Env(worker)["XDG_CACHE_HOME"], mounts);
        Assert.Contains("/tmp", mounts);
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Redis_appends_every_write_to_a_file_on_its_volume(string name)
    {
        var rendering = manifests[name];
        var statefulSet = rendering.Single("StatefulSet", "redis");
        var container = Kustomize.Containers(statefulSet).Single();
        var configVolume = Kustomize.PodSpec(statefulSet)!.Seq("volumes").Maps().Single(v => v.Map("configMap") is not null);
        var conf = rendering.Single("ConfigMap", configVolume.At("configMap")!.Str("name")!).Map("data")!.Str("redis.conf")!;
        var settings = conf.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(' ', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
        Assert.Equal("yes", settings["appendonly"]);
        var dataMount = container.Seq("volumeMounts").Maps().Single(m => m.Str("mountPath") == settings["dir"]);
        Assert.Contains(statefulSet.At("spec")!.Seq("volumeClaimTemplates").Maps(), t => t.At("metadata")!.Str("name") == dataMount.Str("name"));
        var configMount = container.Seq("volumeMounts").Maps().Single(m => m.Str("name") == configVolume.Str("name"));
        Assert.Equal([$"{configMount.Str("mountPath")}/redis.conf"], Pods.Args(container));
    }
}
