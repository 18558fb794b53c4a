namespace Orchestrator.Coordinator.Search;

/// <summary>
/// Proposes trial configurations from a sweep's search space and learns from their results.
/// A configuration is one value per parameter, in the order of the sweep's parameters: the number itself for
/// uniform, log_uniform and int parameters, the index of the choice for categorical ones.
/// Implementations are deterministic: the same spec, seed and sequence of calls give the same suggestions, and a
/// searcher restored from <see cref="SaveState"/> continues exactly as the one that saved it.
/// </summary>
public interface ISearcher
{
    /// <summary>
    /// The configuration for trial number <paramref name="trialNumber"/> (0, 1, 2, ... in the order trials are
    /// created), or null when the searcher has nothing more to propose (a finished grid).
    /// Trials suggested but not yet observed are pending; parallel suggestions must not all be the same.
    /// </summary>
    double[]? Suggest(int trialNumber);

    /// <summary>
    /// The final result of a trial: <paramref name="loss"/> is the objective with lower meaning better (the sweep
    /// negates a maximised metric), or null when the trial ended without one (failed, stopped early without a value).
    /// </summary>
    void Observe(int trialNumber, double? loss);

    /// <summary>Everything the searcher needs to continue, as JSON; persisted with the sweep.</summary>
    string SaveState();
}
