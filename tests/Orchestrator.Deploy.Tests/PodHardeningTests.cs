using Orchestrator.Deploy.Tests.Rendering;

namespace Orchestrator.Deploy.Tests;

/// <summary>Every container has probes and resources, and every pod runs non-root, read-only, without capabilities.</summary>
[Collection(ManifestsCollection.Name)]
public sealed class PodHardeningTests(Manifests manifests)
{
    public static TheoryData<string> Renderings => new(Manifests.Names);

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Every_container_has_liveness_and_readiness_probes_on_declared_ports(string name)
    {
        foreach (var (workload, container) in Pods.AllContainers(manifests[name]))
        {
            var label = $"{Pods.Name(workload)}/{container.Str("name")}";
            foreach (var kind in new[] { "livenessProbe", "readinessProbe" })
            {
                var probe = container.Map(kind);
                Assert.True(probe is not null, $"{label} has no {kind}");
                if (probe!.Map("exec") is not null) continue;
                var port = Pods.ProbePort(container, probe);
                Assert.True(port is > 0 && Pods.Ports(container).ContainsValue(port.Value), $"{label} {kind} targets a port it does not declare");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Every_container_requests_and_limits_cpu_and_memory(string name)
    {
        foreach (var (workload, container) in Pods.AllContainers(manifests[name]))
        {
            foreach (var section in new[] { "requests", "limits" })
            {
                var resources = container.At($"resources.{section}");
                Assert.True(resources?.Str("cpu") is not null && resources.Str("memory") is not null,
                    $"{Pods.Name(workload)}/{container.Str("name")} lacks cpu or memory {section}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Every_pod_runs_non_root_with_a_read_only_root_and_no_capabilities(string name)
    {
        foreach (var workload in manifests[name].Workloads)
        {
            var pod = Kustomize.PodSpec(workload)!.Map("securityContext");
            var label = Pods.Name(workload);
            Assert.True(pod is not null, $"{label} has no pod securityContext");
            Assert.Equal("true", pod!.Str("runAsNonRoot"));
            Assert.True(int.Parse(pod.Str("runAsUser") ?? "0") > 0, $"{label} runs as root");
            Assert.Equal("RuntimeDefault", pod.At("seccompProfile")?.Str("type"));
            foreach (var container in Kustomize.Containers(workload))
            {
                var security = container.Map("securityContext");
                Assert.True(security is not null, $"{label}/{container.Str("name")} has no securityContext");
                Assert.Equal("false", security!.Str("allowPrivilegeEscalation"));
                Assert.Equal("true", security.Str("readOnlyRootFilesystem"));
                Assert.Equal(["ALL"], security.At("capabilities")?.Seq("drop").Strings() ?? []);
                Assert.NotEqual("0", security.Str("runAsUser"));
                Assert.NotEqual("true", security.Str("privileged"));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Only_pods_that_call_the_kubernetes_api_get_a_service_account_token(string name)
    {
        // The coordinator (Orleans' pod watch) and Prometheus (pod discovery) use theirs; the rest opt out.
        foreach (var workload in manifests[name].Workloads)
        {
            var spec = Kustomize.PodSpec(workload)!;
            if (spec.Str("serviceAccountName") is not null) continue;
            Assert.True(spec.Str("automountServiceAccountToken") == "false" || Pods.Name(workload) == "redis" || Pods.Name(workload) == "coordinator",
                $"{Pods.Name(workload)} mounts a token it does not need");
        }
    }
}
