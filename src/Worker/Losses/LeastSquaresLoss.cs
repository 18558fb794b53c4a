using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>LSGAN (Mao et al. 2017), targets 0 / real label / 1: D: ½E[(real − y)²] + ½E[fake²]; G: ½E[(fake − 1)²].</summary>
public sealed class LeastSquaresLoss(double realLabel) : GanLoss
{
    public override Tensor DiscriminatorReal(Tensor realScores)
    {
        using var scope = torch.NewDisposeScope();
        return (0.5 * (realScores - realLabel).square().mean()).MoveToOuterDisposeScope();
    }

    public override Tensor DiscriminatorFake(Tensor fakeScores)
    {
        using var scope = torch.NewDisposeScope();
        return (0.5 * fakeScores.square().mean()).MoveToOuterDisposeScope();
    }

    public override Tensor Generator(Tensor fakeScores)
    {
        using var scope = torch.NewDisposeScope();
        return (0.5 * (fakeScores - 1.0).square().mean()).MoveToOuterDisposeScope();
    }

    public override Tensor Fooled(Tensor realScores, Tensor fakeScores) => fakeScores.gt(0.5);
}
