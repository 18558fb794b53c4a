using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>Hinge loss (Lim and Ye 2017; SAGAN): D: E[relu(1 − real)] + E[relu(1 + fake)]; G: −E[D(fake)].</summary>
public sealed class HingeLoss : GanLoss
{
    public override Tensor DiscriminatorReal(Tensor realScores)
    {
        using var scope = torch.NewDisposeScope();
        return nn.functional.relu(1 - realScores).mean().MoveToOuterDisposeScope();
    }

    public override Tensor DiscriminatorFake(Tensor fakeScores)
    {
        using var scope = torch.NewDisposeScope();
        return nn.functional.relu(1 + fakeScores).mean().MoveToOuterDisposeScope();
    }

    public override Tensor Generator(Tensor fakeScores)
    {
        using var mean = fakeScores.mean();
        return mean.neg();
    }
}
