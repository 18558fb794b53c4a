using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>Resolves a device name from config: cpu, cuda, cuda:N, or auto (CUDA when available).</summary>
public static class DeviceSelector
{
    public static Device Resolve(string name)
    {
        if (name == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (name == "cpu") return torch.CPU;
        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new InvalidOperationException(
                    $"device '{name}' requested but CUDA is not available: no CUDA device, or a CPU build (build with -p:TorchBackend=cuda for TorchSharp's CUDA package)");
            int index = name == "cuda" ? 0 : int.Parse(name.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture);
            int count = torch.cuda.device_count();
            if (index >= count)
                throw new InvalidOperationException($"device '{name}' requested but only {count} CUDA device(s) are present");
            return torch.device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"unknown device '{name}'; allowed: cpu, cuda, cuda:N, auto", nameof(name));
    }

    /// <summary>
    /// Devices for <paramref name="replicas"/> replicas in one process: cpu gives CPU replicas (the same code path,
    /// tested here); cuda and auto give cuda:0 .. cuda:N-1 and need that many devices.
    /// </summary>
    public static Device[] ResolveReplicas(string name, int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        if (replicas == 1) return [Resolve(name)];
        if (name.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"device '{name}' names one GPU but {replicas} replicas were asked for; use device cuda (or auto) to take cuda:0 to cuda:{replicas - 1}", nameof(name));
        var first = Resolve(name);
        if (first.type != DeviceType.CUDA) return Enumerable.Repeat(torch.CPU, replicas).ToArray();
        int count = torch.cuda.device_count();
        if (count < replicas)
            throw new InvalidOperationException($"{replicas} replicas on CUDA need {replicas} devices but only {count} are present");
        return Enumerable.Range(0, replicas).Select(i => torch.device(DeviceType.CUDA, i)).ToArray();
    }
}
