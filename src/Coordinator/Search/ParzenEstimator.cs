using System.Diagnostics;

namespace Orchestrator.Coordinator.Search;

/// <summary>
/// TPE's density for one numeric parameter: a weighted mixture of Gaussians truncated to the range, one per
/// observation plus a prior component, with Optuna's default bandwidths.
/// </summary>
/// <remarks>
/// Bandwidths as Optuna's univariate TPE (consider_prior, prior_weight 1, consider_magic_clip, not
/// consider_endpoints): each kernel's sigma is the larger distance to its neighbours among the sorted
/// observations plus the prior mean (the outermost use their inner neighbour), clipped to
/// [range / min(100, 1 + kernels), range]; the prior is N(middle, range).
/// Whole-number parameters use bounds widened by 0.5 and the mass of [k - 0.5, k + 0.5] as the density of k.
/// Instances are reused across suggestions: <see cref="Fit"/> only grows its buffers.
/// </remarks>
internal sealed class ParzenEstimator
{
    public const double PriorWeight = 1.0;

    private const double SkipBelowMax = 40;

    private double[] _mu = new double[16];
    private double[] _sigma = new double[16];
    private double[] _inverseSigma = new double[16];
    private double[] _logSigma = new double[16];
    private double[] _logCoefficient = new double[16]; // log(weight) - log(sigma) - log(Z)
    private double[] _cumulativeWeight = new double[16];
    private double[] _sortKeys = new double[16];
    private int[] _sortIndex = new int[16];
    private int _count;
    private double _low, _high;
    private bool _discrete;

    /// <param name="observations">Values in model space, inside [low, high].</param>
    /// <param name="weights">Non-negative weight per observation.</param>
    /// <param name="low">Lower bound in model space (a whole number for discrete parameters).</param>
    /// <param name="high">Upper bound in model space.</param>
    /// <param name="discrete">Whole-number parameter: bounds widen by 0.5 and densities are masses of unit cells.</param>
    public void Fit(ReadOnlySpan<double> observations, ReadOnlySpan<double> weights, double low, double high, bool discrete)
    {
        Debug.Assert(observations.Length == weights.Length);
        int n = observations.Length;
        _count = n + 1;
        _discrete = discrete;
        _low = discrete ? low - 0.5 : low;
        _high = discrete ? high + 0.5 : high;
        EnsureCapacity(_count);
        double range = _high - _low;
        if (range <= 0)
        {
            // A range of one value: every kernel is a spike there; any positive width gives equal densities.
            range = 1e-12;
        }
        double priorMu = 0.5 * (_low + _high);

        // Sort observations with the prior's mean to find each one's neighbours.
        for (int i = 0; i < n; i++)
        {
            _sortKeys[i] = observations[i];
            _sortIndex[i] = i;
        }
        _sortKeys[n] = priorMu;
        _sortIndex[n] = n;
        _sortKeys.AsSpan(0, _count).Sort(_sortIndex.AsSpan(0, _count));

        double minSigma = range / Math.Min(100.0, 1.0 + _count);
        for (int j = 0; j < _count; j++)
        {
            int i = _sortIndex[j];
            if (i == n) continue;
            double left = j == 0 ? _sortKeys[j] - _low : _sortKeys[j] - _sortKeys[j - 1];
            double right = j == _count - 1 ? _high - _sortKeys[j] : _sortKeys[j + 1] - _sortKeys[j];
            double sigma;
            if (_count >= 2 && j == 0) sigma = right;             // not consider_endpoints: the outermost
            else if (_count >= 2 && j == _count - 1) sigma = left; // kernels ignore their distance to the bound
            else sigma = Math.Max(left, right);
            _mu[i] = observations[i];
            _sigma[i] = Math.Clamp(sigma, minSigma, range);
        }
        _mu[n] = priorMu;
        _sigma[n] = range;

        double total = PriorWeight;
        for (int i = 0; i < n; i++) total += weights[i];
        double cumulative = 0;
        for (int i = 0; i < _count; i++)
        {
            double w = (i == n ? PriorWeight : weights[i]) / total;
            cumulative += w;
            _cumulativeWeight[i] = cumulative;
            _inverseSigma[i] = 1.0 / _sigma[i];
            _logSigma[i] = Math.Log(_sigma[i]);
            double z = Normal.Mass((_low - _mu[i]) * _inverseSigma[i], (_high - _mu[i]) * _inverseSigma[i]);
            _logCoefficient[i] = w > 0 ? Math.Log(w) - _logSigma[i] - Math.Log(z) : double.NegativeInfinity;
        }
    }

    /// <summary>A draw from the mixture, in model space (a whole number for discrete parameters).</summary>
    public double Sample(DeterministicRandom random)
    {
        double u = random.NextDouble() * _cumulativeWeight[_count - 1];
        int k = 0;
        while (k < _count - 1 && _cumulativeWeight[k] <= u) k++;
        double x = double.NaN;
        // Rejection from the untruncated kernel: every kernel's mean is inside the range and its sigma at most
        // the range, so at least about a third of the draws land inside; the cap only guards pathological cases.
        for (int attempt = 0; attempt < 64; attempt++)
        {
            double candidate = _mu[k] + _sigma[k] * random.NextGaussian();
            if (candidate >= _low && candidate <= _high)
            {
                x = candidate;
                break;
            }
        }
        if (double.IsNaN(x)) x = Math.Clamp(_mu[k], _low, _high);
        if (_discrete) x = Math.Clamp(Math.Round(x, MidpointRounding.AwayFromZero), _low + 0.5, _high - 0.5);
        return x;
    }

    /// <summary>Log density (log mass of the unit cell for discrete parameters) of the mixture at <paramref name="x"/>.</summary>
    public double LogDensity(double x)
    {
        // Streaming log-sum-exp, no buffer. Kernels more than e^40 below the running maximum change the sum by
        // less than 1e-17 relative and are skipped before any exp: at 1,000 observations most kernels are far
        // from a candidate, and this is where a suggestion spends its time.
        double max = double.NegativeInfinity, sum = 0;
        for (int i = 0; i < _count; i++)
        {
            double z = (x - _mu[i]) * _inverseSigma[i];
            double term = _logCoefficient[i] - 0.5 * z * z - Normal.LogSqrt2Pi;
            if (term < max - SkipBelowMax) continue;
            if (_discrete)
            {
                double mass = Normal.Mass(z - 0.5 * _inverseSigma[i], z + 0.5 * _inverseSigma[i]);
                // Far in the tail the cell's mass underflows; its width-one density (term) approximates it.
                if (mass > 1e-300) term = _logCoefficient[i] + Math.Log(mass) + _logSigma[i];
            }
            if (term <= max)
            {
                sum += Math.Exp(term - max);
            }
            else if (!double.IsNegativeInfinity(term))
            {
                sum = sum * Math.Exp(max - term) + 1.0;
                max = term;
            }
        }
        return max + Math.Log(sum);
    }

    private void EnsureCapacity(int count)
    {
        if (_mu.Length >= count) return;
        int size = Math.Max(count, _mu.Length * 2);
        _mu = new double[size];
        _sigma = new double[size];
        _inverseSigma = new double[size];
        _logSigma = new double[size];
        _logCoefficient = new double[size];
        _cumulativeWeight = new double[size];
        _sortKeys = new double[size];
        _sortIndex = new int[size];
    }
}
