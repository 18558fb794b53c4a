using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>Non-saturating BCE: D as in minimax; G maximises log D(G(z)), i.e. BCE(s, 1).</summary>
public sealed class NonSaturatingLoss(double realLabel) : BceGanLoss(realLabel)
{
    public override Tensor Generator(Tensor fakeScores) => BinaryCrossEntropy(fakeScores, 1.0);
}
