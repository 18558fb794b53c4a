using Orchestrator.Shared.Specs;

namespace Orchestrator.Worker.Training;

/// <summary>
/// Steers G's learning rate by how often D is fooled: averaged over a window of steps, a fooled rate below the
/// target band means D is winning, so G's rate rises; above the band G is winning and its rate falls; inside
/// the band it holds. Bounded by [min_lr, max_lr].
/// </summary>
public sealed class AdaptiveLrController(AdaptiveLrSpec spec, double initialLr)
{
    private double _sum;
    private int _count;

    public double LearningRate { get; private set; } = initialLr;
    public AdaptiveDecision LastDecision { get; private set; } = AdaptiveDecision.Hold;
    public double LastWindowRate { get; private set; } = double.NaN;

    /// <summary>Records one step's fooled rate; at the end of each window decides and returns the new rate.</summary>
    public double Observe(double fooledRate)
    {
        _sum += fooledRate;
        _count++;
        if (_count < spec.Window) return LearningRate;
        LastWindowRate = _sum / _count;
        _sum = 0;
        _count = 0;
        if (LastWindowRate < spec.TargetLow)
        {
            LastDecision = AdaptiveDecision.Raise;
            LearningRate = Math.Min(spec.MaxLr, LearningRate * spec.Factor);
        }
        else if (LastWindowRate > spec.TargetHigh)
        {
            LastDecision = AdaptiveDecision.Lower;
            LearningRate = Math.Max(spec.MinLr, LearningRate / spec.Factor);
        }
        else
        {
            LastDecision = AdaptiveDecision.Hold;
        }
        return LearningRate;
    }

    public AdaptiveLrState Capture() => new(LearningRate, _sum, _count, LastDecision, LastWindowRate);

    public void Restore(AdaptiveLrState state)
    {
        LearningRate = state.LearningRate;
        _sum = state.Sum;
        _count = state.Count;
        LastDecision = state.LastDecision;
        LastWindowRate = state.LastWindowRate;
    }
}

/// <summary>What the controller did at its last decision.</summary>
public enum AdaptiveDecision
{
    Hold,
    Raise,
    Lower,
}

/// <summary>The controller's checkpointed state.</summary>
public sealed record AdaptiveLrState(double LearningRate, double Sum, int Count, AdaptiveDecision LastDecision, double LastWindowRate);
