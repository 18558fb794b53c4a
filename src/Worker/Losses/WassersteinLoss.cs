using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>WGAN critic loss E[D(fake)] − E[D(real)]; G minimises −E[D(fake)]. Lipschitz by clipping or penalty.</summary>
public sealed class WassersteinLoss : GanLoss
{
    public override Tensor DiscriminatorReal(Tensor realScores)
    {
        using var mean = realScores.mean();
        return mean.neg();
    }

    public override Tensor DiscriminatorFake(Tensor fakeScores) => fakeScores.mean();

    public override Tensor Generator(Tensor fakeScores)
    {
        using var mean = fakeScores.mean();
        return mean.neg();
    }

    public override Tensor Fooled(Tensor realScores, Tensor fakeScores)
    {
        using var threshold = realScores.mean();
        return fakeScores.gt(threshold);
    }
}
