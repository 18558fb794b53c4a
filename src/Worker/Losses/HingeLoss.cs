using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>Hinge loss (Lim and Ye 2017; SAGAN): D: E[relu(1 − real)] + E[relu(1 + fake)]; G: −E[D(fake)].</summary>
public sealed class HingeLoss : GanLoss
{
    public override Tensor Discriminator(Tensor realScores, Tensor fakeScores)
    {
        using var scope = torch.NewDisposeScope();
        var loss = nn.functional.relu(1 - realScores).mean() + nn.functional.relu(1 + fakeScores).mean();
        return loss.MoveToOuterDisposeScope();
    }

    public override Tensor Generator(Tensor fakeScores)
    {
        using var mean = fakeScores.mean();
        return mean.neg();
    }
}
