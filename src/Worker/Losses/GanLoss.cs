using Orchestrator.Shared.Specs;

using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>An adversarial objective over D's raw scores (logits for the BCE family).</summary>
public abstract class GanLoss
{
    /// <summary>D's loss given its scores on a real and a fake batch: the sum of its real and fake parts.</summary>
    public Tensor Discriminator(Tensor realScores, Tensor fakeScores)
    {
        using var real = DiscriminatorReal(realScores);
        using var fake = DiscriminatorFake(fakeScores);
        return real + fake;
    }

    /// <summary>The part of D's loss on the real batch. Separate, so that it can be back-propagated before G has made
    /// the fake batch (a data-parallel trainer does it while G's gradients travel).</summary>
    public abstract Tensor DiscriminatorReal(Tensor realScores);

    /// <summary>The part of D's loss on the fake batch.</summary>
    public abstract Tensor DiscriminatorFake(Tensor fakeScores);

    /// <summary>G's loss given D's scores on G's samples.</summary>
    public abstract Tensor Generator(Tensor fakeScores);

    /// <summary>
    /// Which fake samples D takes for real: above the decision threshold for classifier losses,
    /// above the mean real score for critics (whose scores have no fixed threshold).
    /// </summary>
    public virtual Tensor Fooled(Tensor realScores, Tensor fakeScores) => fakeScores.gt(0);

    public static GanLoss Create(LossSpec spec) => spec.Type switch
    {
        LossTypes.Minimax => new MinimaxLoss(spec.RealLabel),
        LossTypes.NonSaturating => new NonSaturatingLoss(spec.RealLabel),
        LossTypes.Wgan or LossTypes.WganGp => new WassersteinLoss(),
        LossTypes.Hinge => new HingeLoss(),
        LossTypes.LeastSquares => new LeastSquaresLoss(spec.RealLabel),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Type, $"unknown loss; allowed: {string.Join(", ", LossTypes.All)}"),
    };

    /// <summary>BCE of logits against a constant target y: y·softplus(−s) + (1 − y)·softplus(s), averaged.</summary>
    protected static Tensor BinaryCrossEntropy(Tensor logits, double target)
    {
        using var scope = torch.NewDisposeScope();
        var loss = target == 1.0
            ? nn.functional.softplus(-logits).mean()
            : target == 0.0
                ? nn.functional.softplus(logits).mean()
                : (target * nn.functional.softplus(-logits) + (1 - target) * nn.functional.softplus(logits)).mean();
        return loss.MoveToOuterDisposeScope();
    }
}
