namespace Orchestrator.Worker.Agent;

/// <summary>How a worker agent reaches its coordinator and what it offers (`orchestrator worker`).</summary>
public sealed class WorkerAgentOptions
{
    /// <summary>The coordinator's gRPC address, http(s)://host:port.</summary>
    public required Uri Coordinator { get; init; }

    /// <summary>The coordinator's join token; null when it runs without one (loopback only).</summary>
    public string? JoinToken { get; init; }

    /// <summary>Trial members this worker runs at the same time.</summary>
    public int Slots { get; init; } = 1;

    /// <summary>Devices (replicas) one member may use.</summary>
    public int Devices { get; init; } = 1;

    /// <summary>Stable across reconnects of this process; [A-Za-z0-9._:-].</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>The host peers reach this worker's trial members on.</summary>
    public string CollectiveHost { get; init; } = "127.0.0.1";

    /// <summary>Slot 0's collective port; slot i listens on this plus i.</summary>
    public int CollectivePort { get; init; } = 29500;

    /// <summary>Where attempts keep their run directories.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>How to start a trial process: the `orchestrator` executable, or `dotnet` and its dll, before `train`.</summary>
    public required IReadOnlyList<string> TrainCommand { get; init; }

    /// <summary>How long a stopped trial may take to checkpoint and exit before it is killed.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Seconds a data-parallel group's peer may stall before the trial fails (and is retried).</summary>
    public double CollectiveTimeoutSeconds { get; init; } = 30;

    /// <summary>
    /// Pin each slot's trial to its own share of the cores this worker may use (its cpuset, split evenly between the
    /// slots; a trial splits its share between its replicas): `--pin-cores`.
    /// </summary>
    public bool PinCores { get; init; }

    private IReadOnlyList<int>[]? _slotCores;

    /// <summary>The cores slot <paramref name="slot"/>'s trial is pinned to; null when <see cref="PinCores"/> is off.</summary>
    public IReadOnlyList<int>? SlotCores(int slot) =>
        PinCores ? (_slotCores ??= Training.CpuAffinity.Share(Training.CpuAffinity.Allowed(), Slots))[slot % Slots] : null;

    /// <summary>The longest wait between reconnection attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <exception cref="ArgumentException">A value is out of range, naming it.</exception>
    public void Validate()
    {
        if (Coordinator.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--coordinator must be an http:// or https:// URL, got '{Coordinator}'");
        if (Slots is < 1 or > 256) throw new ArgumentException($"--slots must be between 1 and 256, got {Slots}");
        if (Devices is < 1 or > 64) throw new ArgumentException($"--devices must be between 1 and 64, got {Devices}");
        if (CollectivePort is < 1 || CollectivePort + Slots - 1 > 65535)
            throw new ArgumentException($"--collective-port {CollectivePort} with {Slots} slots leaves the port range");
        if (WorkerId.Length is 0 or > 128 || !WorkerId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
            throw new ArgumentException($"--worker-id must be 1 to 128 characters of [A-Za-z0-9._:-], got '{WorkerId}'");
        if (TrainCommand.Count == 0) throw new ArgumentException("the train command is empty");
        if (PinCores)
        {
            if (!Training.CpuAffinity.Supported) throw new ArgumentException("--pin-cores needs Linux");
            int cores = Training.CpuAffinity.Allowed().Count;
            if (cores < Slots * Devices)
                throw new ArgumentException($"--pin-cores gives every replica a core of its own, but this worker may use {cores} core(s) for {Slots} slot(s) x {Devices} device(s)");
        }
    }
}
