using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>The BCE family: D classifies real (target = real label, 0.9 with one-sided smoothing) against fake (0).</summary>
public abstract class BceGanLoss(double realLabel) : GanLoss
{
    public sealed override Tensor DiscriminatorReal(Tensor realScores) => BinaryCrossEntropy(realScores, realLabel);

    public sealed override Tensor DiscriminatorFake(Tensor fakeScores) => BinaryCrossEntropy(fakeScores, 0.0);
}
