namespace Orchestrator.Worker.Collectives;

/// <summary>
/// A communicator that can run an all-reduce in two halves on the caller's thread: <see cref="BeginAllReduce"/> hands
/// this rank's buffer to the others without waiting for them, the caller computes something that needs neither the
/// buffer nor its result, and <see cref="EndAllReduce"/> waits and writes the result. No communication thread, no
/// hand-off between threads: what a group whose ranks share memory can offer a training loop.
/// </summary>
public interface ISplitAllReduce
{
    /// <summary>Whether an all-reduce of <paramref name="length"/> floats can be split now (otherwise call <see cref="ICommunicator.AllReduce"/>).</summary>
    bool CanSplitAllReduce(int length);

    /// <summary>Starts an all-reduce of <paramref name="buffer"/>, which must stay untouched until <see cref="EndAllReduce"/>.
    /// No other collective may run in between.</summary>
    void BeginAllReduce(Memory<float> buffer, ReduceOp op, CancellationToken cancellationToken = default);

    /// <summary>Waits for the other ranks and replaces the buffer given to <see cref="BeginAllReduce"/> with the result.</summary>
    void EndAllReduce();
}
