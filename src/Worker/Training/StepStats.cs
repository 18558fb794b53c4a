namespace Orchestrator.Worker.Training;

/// <summary>
/// Figures of one training step (D losses averaged over its n_critic updates; in a data-parallel group, the group's
/// means). <see cref="StopRequested"/>: some rank asked to stop during this step, so every rank stops after it.
/// </summary>
public readonly record struct StepStats(
    int Step,
    double DiscriminatorLoss,
    double GeneratorLoss,
    double? GradientPenalty,
    double FooledRate,
    double GeneratorLr,
    double DiscriminatorLr,
    double? DiscriminatorGradNorm,
    double? GeneratorGradNorm,
    bool StopRequested = false)
{
    /// <summary>The first non-finite loss, named, or null when both are finite.</summary>
    public string? NonFiniteLoss =>
        !double.IsFinite(DiscriminatorLoss) ? $"d_loss is {DiscriminatorLoss}"
        : !double.IsFinite(GeneratorLoss) ? $"g_loss is {GeneratorLoss}"
        : GradientPenalty is { } gp && !double.IsFinite(gp) ? $"gradient_penalty is {gp}"
        : null;
}
