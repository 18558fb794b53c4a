using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>The original minimax GAN: G minimises log(1 − D(G(z))) = −softplus(s); it saturates early in training.</summary>
public sealed class MinimaxLoss(double realLabel) : BceGanLoss(realLabel)
{
    public override Tensor Generator(Tensor fakeScores)
    {
        using var softplus = nn.functional.softplus(fakeScores);
        using var mean = softplus.mean();
        return mean.neg();
    }
}
