namespace Orchestrator.Coordinator.Search;

/// <summary>What a PBT member does after a report.</summary>
public enum PbtAction
{
    /// <summary>Keep training with the current parameters.</summary>
    Continue,

    /// <summary>Load another member's checkpoint and continue from it with new (perturbed) parameters.</summary>
    Exploit,
}
