using Orchestrator.Worker.Agent;
using Orchestrator.Worker.Training;

namespace Orchestrator.Worker.Tests.Agent;

/// <summary>`orchestrator worker --pin-cores`: each slot's trial gets its own share of the worker's cores.</summary>
public class PinCoresTests
{
    private static WorkerAgentOptions Options(int slots, int devices, bool pin) => new()
    {
        Coordinator = new Uri("http://127.0.0.1:5080"),
        WorkDirectory = Path.GetTempPath(),
        TrainCommand = ["orchestrator"],
        Slots = slots,
        Devices = devices,
        PinCores = pin,
    };

    [Fact]
    public void Every_slot_gets_its_own_share_of_the_worker_s_cores()
    {
        var allowed = CpuAffinity.Allowed();
        var options = Options(allowed.Count, 1, pin: true);
        options.Validate();
        var shares = Enumerable.Range(0, allowed.Count).Select(slot => options.SlotCores(slot)!.ToArray()).ToArray();
        Assert.Equal(allowed.Select(c => new[] { c }).ToArray(), shares);

        var one = Options(1, 1, pin: true);
        Assert.Equal(allowed.ToArray(), one.SlotCores(0)!.ToArray());
        Assert.Null(Options(1, 1, pin: false).SlotCores(0));
    }

    [Fact]
    public void Pinning_more_slots_and_devices_than_cores_is_refused_naming_them()
    {
        int cores = CpuAffinity.Allowed().Count;
        var error = Assert.Throws<ArgumentException>(() => Options(cores, 2, pin: true).Validate());
        Assert.Equal($"--pin-cores gives every replica a core of its own, but this worker may use {cores} core(s) for {cores} slot(s) x 2 device(s)", error.Message);
        // Without pinning, the same worker is fine.
        Options(cores, 2, pin: false).Validate();
    }
}
