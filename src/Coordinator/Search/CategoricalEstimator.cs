namespace Orchestrator.Coordinator.Search;

/// <summary>TPE's density for a categorical parameter: weighted choice counts smoothed by a uniform prior.</summary>
/// <remarks>p(c) ∝ Σ weights of observations with choice c + prior weight / choices (Optuna's default smoothing).</remarks>
internal sealed class CategoricalEstimator
{
    private double[] _logProbability = new double[4];
    private double[] _cumulative = new double[4];
    private int _choices;

    public void Fit(ReadOnlySpan<double> observations, ReadOnlySpan<double> weights, int choices)
    {
        _choices = choices;
        if (_cumulative.Length < choices)
        {
            _logProbability = new double[choices];
            _cumulative = new double[choices];
        }
        Span<double> mass = _logProbability.AsSpan(0, choices);
        mass.Fill(ParzenEstimator.PriorWeight / choices);
        double total = ParzenEstimator.PriorWeight;
        for (int i = 0; i < observations.Length; i++)
        {
            mass[(int)observations[i]] += weights[i];
            total += weights[i];
        }
        double cumulative = 0;
        for (int c = 0; c < choices; c++)
        {
            cumulative += mass[c] / total;
            _cumulative[c] = cumulative;
            mass[c] = Math.Log(mass[c] / total);
        }
    }

    public double Sample(DeterministicRandom random)
    {
        double u = random.NextDouble() * _cumulative[_choices - 1];
        int c = 0;
        while (c < _choices - 1 && _cumulative[c] <= u) c++;
        return c;
    }

    public double LogProbability(double choice) => _logProbability[(int)choice];
}
