namespace Orchestrator.Coordinator.Search;

/// <summary>
/// Decides, from the intermediate metric trials report while they train, which trials to stop early.
/// Values are lower-is-better (the sweep negates a maximised metric); a NaN or infinite value counts as the worst.
/// Implementations are deterministic and a stopper restored from <see cref="SaveState"/> answers exactly as the
/// one that saved it would have.
/// </summary>
public interface IEarlyStopper
{
    /// <summary>
    /// An intermediate value of trial <paramref name="trialNumber"/> after <paramref name="step"/> training steps.
    /// Once a trial has been told to stop, every later report of it is answered <see cref="StopDecision.Stop"/>.
    /// </summary>
    StopDecision Report(int trialNumber, int step, double value);

    /// <summary>The trial ended: with its final value, or null when it failed or was stopped without one.</summary>
    void Complete(int trialNumber, double? value);

    /// <summary>Everything the stopper needs to continue, as JSON; persisted with the sweep.</summary>
    string SaveState();
}
