using Orchestrator.Deploy.Tests.Rendering;

namespace Orchestrator.Deploy.Tests;

/// <summary>The overlays change what they are for and nothing else: GPUs for workers only, small requests on a laptop.</summary>
[Collection(ManifestsCollection.Name)]
public sealed class OverlayTests(Manifests manifests)
{
    private static int Gpus(Rendering.Rendering rendering, string section) =>
        Pods.AllContainers(rendering).Sum(c => int.Parse(c.Container.At($"resources.{section}")?.Str("nvidia.com/gpu") ?? "0"));

    [Fact]
    public void Gpu_overlay_requests_gpus_for_workers_only()
    {
        var gpu = manifests["gpu"];
        foreach (var (workload, container) in Pods.AllContainers(gpu))
        {
            var limit = container.At("resources.limits")?.Str("nvidia.com/gpu");
            if (Pods.Name(workload) == "worker") Assert.True(int.Parse(limit ?? "0") >= 1, "the worker has no GPU limit");
            else Assert.True(limit is null && container.At("resources.requests")?.Str("nvidia.com/gpu") is null, $"{Pods.Name(workload)} asks for a GPU");
        }
    }

    [Fact]
    public void Gpu_workers_offer_one_slot_per_gpu_and_run_the_cuda_image_on_gpu_nodes()
    {
        var gpu = manifests["gpu"];
        var worker = gpu.Single("Deployment", "worker");
        var container = Kustomize.Containers(worker).Single();
        var gpus = int.Parse(container.At("resources.limits")!.Str("nvidia.com/gpu")!);
        Assert.Equal(gpus, CodeFacts.WorkerOption<int>(Pods.Args(container), "--slots"));
        Assert.Equal(1, CodeFacts.WorkerOption<int>(Pods.Args(container), "--devices"));
        Assert.StartsWith("orchestrator/worker-cuda:", container.Str("image"));
        var spec = Kustomize.PodSpec(worker)!;
        Assert.NotNull(spec.Map("nodeSelector"));
        Assert.Contains(spec.Seq("tolerations").Maps(), t => t.Str("key") == "nvidia.com/gpu");
        foreach (var other in gpu.Workloads.Where(w => Pods.Name(w) != "worker"))
            Assert.Null(Kustomize.PodSpec(other)!.Seq("tolerations"));
    }

    [Fact]
    public void Base_and_cpu_overlay_request_no_gpu()
    {
        Assert.Equal(0, Gpus(manifests["base"], "limits") + Gpus(manifests["base"], "requests"));
        Assert.Equal(0, Gpus(manifests["cpu"], "limits") + Gpus(manifests["cpu"], "requests"));
        Assert.StartsWith("orchestrator/worker:", Pods.Container(manifests["cpu"], "Deployment", "worker", "worker").Str("image"));
    }

    [Fact]
    public void Cpu_overlay_fits_a_laptop()
    {
        var cpu = manifests["cpu"];
        var millicores = Pods.AllContainers(cpu).Sum(c =>
        {
            var workload = c.Workload;
            var replicas = int.Parse(workload.At("spec")!.Str("replicas") ?? "1");
            var request = c.Container.At("resources.requests")!.Str("cpu")!;
            return replicas * (request.EndsWith('m') ? int.Parse(request[..^1]) : (int)(double.Parse(request, System.Globalization.CultureInfo.InvariantCulture) * 1000));
        });
        Assert.True(millicores <= 4000, $"the cpu overlay requests {millicores}m CPU in all");
        Assert.Equal(["ReadWriteOnce"], cpu.Single("PersistentVolumeClaim", "artifacts").At("spec")!.Seq("accessModes").Strings());
    }

    [Fact]
    public void Images_carry_an_explicit_tag()
    {
        foreach (var rendering in manifests.Renderings.Values)
        {
            foreach (var (_, container) in Pods.AllContainers(rendering))
            {
                var (_, tag) = Kustomize.SplitImage(container.Str("image")!);
                Assert.True(tag.Length > 1 && tag != ":latest", $"{rendering.Name}: {container.Str("image")} has no pinned tag");
            }
        }
    }
}
