using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>The BCE family: D classifies real (target = real label, 0.9 with one-sided smoothing) against fake (0).</summary>
public abstract class BceGanLoss(double realLabel) : GanLoss
{
    public sealed override Tensor Discriminator(Tensor realScores, Tensor fakeScores)
    {
        using var real = BinaryCrossEntropy(realScores, realLabel);
        using var fake = BinaryCrossEntropy(fakeScores, 0.0);
        return real + fake;
    }
}
