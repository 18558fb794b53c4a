namespace Orchestrator.Worker.Evaluation;

/// <summary>A kernel inception distance: the mean and spread of the unbiased MMD² over random subsets.</summary>
/// <param name="Mean">Mean MMD² over the subsets; unbiased, so it can be slightly negative for equal distributions.</param>
/// <param name="Std">Population standard deviation of the per-subset estimates (0 for a single subset).</param>
public sealed record KernelDistance(double Mean, double Std);
