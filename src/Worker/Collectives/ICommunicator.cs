namespace Orchestrator.Worker.Collectives;

/// <summary>
/// The collectives a data-parallel replica uses, whoever carries them: a ring of processes
/// (<see cref="ProcessGroup"/>), replicas inside one process, or both composed.
/// Every rank of the group calls the same collectives in the same order.
/// </summary>
public interface ICommunicator
{
    /// <summary>This replica's global rank, 0 to <see cref="WorldSize"/> - 1.</summary>
    int Rank { get; }

    int WorldSize { get; }

    /// <summary>Replaces <paramref name="buffer"/> on every rank with the element-wise sum or mean over the ranks.</summary>
    Task AllReduceAsync(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="AllReduceAsync"/>, blocking the calling thread until done: what a training loop calls. Implementations
    /// that wait without a task (shared memory, in-process replicas) run it on the caller's thread.
    /// </summary>
    void AllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default) =>
        AllReduceAsync(buffer, op, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="buffer"/> into every other rank's.</summary>
    Task BroadcastAsync(Memory<byte> buffer, int root, CancellationToken cancellationToken = default);

    /// <inheritdoc cref="BroadcastAsync(Memory{byte}, int, CancellationToken)"/>
    Task BroadcastAsync(Memory<float> buffer, int root, CancellationToken cancellationToken = default);

    /// <summary>Returns once every rank has called it.</summary>
    Task BarrierAsync(CancellationToken cancellationToken = default);
}
