using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>WGAN critic loss E[D(fake)] − E[D(real)]; G minimises −E[D(fake)]. Lipschitz by clipping or penalty.</summary>
public sealed class WassersteinLoss : GanLoss
{
    public override Tensor Discriminator(Tensor realScores, Tensor fakeScores)
    {
        using var fake = fakeScores.mean();
        using var real = realScores.mean();
        return fake - real;
    }

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
