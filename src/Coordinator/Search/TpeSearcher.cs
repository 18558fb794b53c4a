using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Tree-structured Parzen estimator (Bergstra et al. 2011), univariate, with Optuna's default estimators.</summary>
/// <remarks>
/// Until <see cref="SearchSpec.StartupTrials"/> trials have finished with a loss, suggestions are random search's
/// (the same points <see cref="RandomSearcher"/> gives for the seed). Then, for each parameter independently:
/// the finished trials are split at the γ quantile of their losses into good (the ceil(γ·n) lowest, at most 25)
/// and bad,
/// l(x) and g(x) are Parzen densities fitted to each group (<see cref="ParzenEstimator"/>,
/// <see cref="CategoricalEstimator"/>; observations weighted by Optuna's recency ramp beyond 25), Candidates
/// values are drawn from l and the one with the largest l(x)/g(x) is suggested.
///
/// Parallel trials. Two mechanisms, both cheap: every trial number draws from its own random stream, so two
/// pending trials never share candidates; and pending trials (suggested, not observed) join the bad group at
/// their suggested points (Optuna's constant_liar: they "lie" that they did badly). Fresh streams alone are not
/// enough: the argmax of l/g concentrates on l's mode, so with several workers asking at once the candidate sets
/// differ but the winners cluster on the same spot. The liar raises g there, pushing the next pending trial
/// elsewhere, and the lie is withdrawn the moment the real result arrives. Unlike a liar that invents a loss
/// (worst observed value) it cannot distort the γ split of the real results.
///
/// Failed trials (null or non-finite loss) are remembered with their point (state, idempotent Suggest) but count
/// as neither good nor bad: a crash says nothing reliable about the objective there.
///
/// Suggest for a trial number already suggested returns the same point again, so a grain that retries a call
/// after a crash gets the same answer.
/// </remarks>
public sealed class TpeSearcher : ISearcher
{
    public const string AlgorithmName = SearchAlgorithms.Tpe;

    private const ulong StreamPurpose = 2;

    /// <summary>Optuna's default_weights: the newest 25 observations weigh 1, older ones ramp down linearly.</summary>
    private const int FlatWeightCount = 25;

    /// <summary>
    /// Optuna's cap on the good group (its default gamma is min(ceil(0.1 n), 25)): with γ = 0.25 of 1,000 trials
    /// l(x) would spread over 250 points, a quarter of the space's history, and stop concentrating.
    /// </summary>
    private const int MaxGoodCount = 25;

    private readonly SearchSpace _space;
    private readonly int _seed;
    private readonly int _startupTrials;
    private readonly double _gamma;
    private readonly int _candidates;

    private readonly List<Trial> _trials = []; // ordered by trial number
    private readonly Dictionary<int, Trial> _byNumber = [];

    // Scratch reused by every model-based suggestion (no per-call allocation beyond the returned point).
    private readonly ParzenEstimator _goodDensity = new();
    private readonly ParzenEstimator _badDensity = new();
    private readonly CategoricalEstimator _goodChoices = new();
    private readonly CategoricalEstimator _badChoices = new();
    private Trial[] _ranked = [];
    private Trial[] _good = [];
    private Trial[] _bad = [];
    private double[] _goodValues = [], _badValues = [], _goodWeights = [], _badWeights = [];

    public TpeSearcher(SearchSpace space, SearchSpec search)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(search);
        if (search.StartupTrials < 0) throw new ArgumentException($"tpe: startup_trials must be >= 0, got {search.StartupTrials}");
        if (!(search.Gamma > 0 && search.Gamma <= 1)) throw new ArgumentException($"tpe: gamma must be in (0, 1], got {search.Gamma}");
        if (search.Candidates < 1) throw new ArgumentException($"tpe: candidates must be >= 1, got {search.Candidates}");
        _space = space;
        _seed = search.Seed;
        _startupTrials = search.StartupTrials;
        _gamma = search.Gamma;
        _candidates = search.Candidates;
    }

    /// <summary>Trials that finished with a loss.</summary>
    public int CompletedCount { get; private set; }

    public double[]? Suggest(int trialNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        if (_byNumber.TryGetValue(trialNumber, out var known)) return (double[])known.Point.Clone();
        double[] point = CompletedCount < _startupTrials || CompletedCount == 0
            ? _space.Sample(DeterministicRandom.ForStream(_seed, trialNumber, RandomSearcher.StreamPurpose))
            : SuggestFromModel(trialNumber);
        Add(new Trial(trialNumber, point, ToModel(point)));
        return (double[])point.Clone();
    }

    /// <summary>
    /// Records a trial's result. A NaN or infinite loss counts as failed. Observing a trial again replaces its
    /// result (a re-run). Throws for a trial this searcher never suggested: it would have no point to learn from.
    /// </summary>
    public void Observe(int trialNumber, double? loss)
    {
        if (!_byNumber.TryGetValue(trialNumber, out var trial))
            throw new ArgumentException($"tpe: trial {trialNumber} was never suggested by this searcher", nameof(trialNumber));
        if (trial.Completed) CompletedCount--;
        trial.Observed = true;
        trial.Loss = loss is double l && double.IsFinite(l) ? l : null;
        if (trial.Completed) CompletedCount++;
    }

    public string SaveState()
    {
        var trials = new TrialState[_trials.Count];
        for (int i = 0; i < trials.Length; i++)
        {
            var t = _trials[i];
            trials[i] = new TrialState { Number = t.Number, Point = t.Point, Observed = t.Observed, Loss = t.Loss };
        }
        return StateJson.Write(new State
        {
            Algorithm = AlgorithmName,
            Version = StateJson.Version,
            Seed = _seed,
            Parameters = _space.Signature(),
            Trials = trials,
        });
    }

    /// <summary>A TPE searcher continuing from <paramref name="state"/>; throws <see cref="SearchStateException"/> if it does not fit.</summary>
    public static TpeSearcher Restore(SearchSpace space, SearchSpec search, string state)
    {
        var saved = StateJson.Read<State>(state, AlgorithmName, space.Signature(), search.Seed);
        var searcher = new TpeSearcher(space, search);
        foreach (var t in saved.Trials ?? [])
        {
            if (t is null || t.Point is null || t.Point.Length != space.Count || searcher._byNumber.ContainsKey(t.Number) || t.Number < 0)
                throw new SearchStateException($"tpe state: trial entry {t?.Number.ToString() ?? "null"} is malformed or repeated");
            foreach (double v in t.Point)
                if (!double.IsFinite(v)) throw new SearchStateException($"tpe state: trial {t.Number} has a non-finite value");
            var point = space.Clamp(t.Point);
            var trial = new Trial(t.Number, point, searcher.ToModel(point)) { Observed = t.Observed, Loss = t.Observed ? t.Loss : null };
            searcher.Add(trial);
            if (trial.Completed) searcher.CompletedCount++;
        }
        return searcher;
    }

    private double[] SuggestFromModel(int trialNumber)
    {
        var random = DeterministicRandom.ForStream(_seed, trialNumber, StreamPurpose);
        int n = CompletedCount;
        EnsureScratch(_trials.Count);

        // Rank finished trials by loss, ties by trial number, so the split is deterministic.
        int k = 0;
        foreach (var t in _trials)
            if (t.Completed) _ranked[k++] = t;
        Array.Sort(_ranked, 0, n, TrialByLoss.Instance);
        int goodCount = Math.Clamp((int)Math.Ceiling(_gamma * n), 1, Math.Min(n, MaxGoodCount));
        for (int i = 0; i < n; i++) _ranked[i].Good = i < goodCount;

        // Both groups in trial-number order: the recency weights follow it.
        int g = 0, b = 0;
        foreach (var t in _trials)
        {
            if (t.Completed && t.Good) _good[g++] = t;
            else if (t.Completed || !t.Observed) _bad[b++] = t; // bad, or pending (the constant liar)
        }
        Weights(_goodWeights.AsSpan(0, g));
        Weights(_badWeights.AsSpan(0, b));

        var point = new double[_space.Count];
        for (int p = 0; p < point.Length; p++)
        {
            for (int i = 0; i < g; i++) _goodValues[i] = _good[i].Model[p];
            for (int i = 0; i < b; i++) _badValues[i] = _bad[i].Model[p];
            point[p] = _space.Kind(p) == ParameterKind.Categorical
                ? BestChoice(p, g, b, random)
                : _space.FromModel(p, BestValue(p, g, b, random));
        }
        return point;
    }

    private double BestValue(int p, int g, int b, DeterministicRandom random)
    {
        bool discrete = _space.Kind(p) == ParameterKind.Int;
        double low = _space.Low(p), high = _space.High(p);
        _goodDensity.Fit(_goodValues.AsSpan(0, g), _goodWeights.AsSpan(0, g), low, high, discrete);
        _badDensity.Fit(_badValues.AsSpan(0, b), _badWeights.AsSpan(0, b), low, high, discrete);
        double best = double.NaN, bestScore = double.NegativeInfinity;
        for (int c = 0; c < _candidates; c++)
        {
            double x = _goodDensity.Sample(random);
            double score = _goodDensity.LogDensity(x) - _badDensity.LogDensity(x);
            if (double.IsNaN(best) || score > bestScore)
            {
                best = x;
                bestScore = score;
            }
        }
        return best;
    }

    private double BestChoice(int p, int g, int b, DeterministicRandom random)
    {
        int choices = _space.Choices(p);
        _goodChoices.Fit(_goodValues.AsSpan(0, g), _goodWeights.AsSpan(0, g), choices);
        _badChoices.Fit(_badValues.AsSpan(0, b), _badWeights.AsSpan(0, b), choices);
        double best = -1, bestScore = double.NegativeInfinity;
        for (int c = 0; c < _candidates; c++)
        {
            double x = _goodChoices.Sample(random);
            double score = _goodChoices.LogProbability(x) - _badChoices.LogProbability(x);
            if (best < 0 || score > bestScore)
            {
                best = x;
                bestScore = score;
            }
        }
        return best;
    }

    /// <summary>Optuna's default_weights, oldest first: ones below 25 observations, else a ramp 1/n..1 then 25 ones.</summary>
    private static void Weights(Span<double> weights)
    {
        int n = weights.Length;
        if (n < FlatWeightCount)
        {
            weights.Fill(1.0);
            return;
        }
        int ramp = n - FlatWeightCount;
        // numpy.linspace(1/n, 1, ramp)
        for (int i = 0; i < ramp; i++)
            weights[i] = ramp == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * i / (ramp - 1);
        weights[ramp..].Fill(1.0);
    }

    private double[] ToModel(double[] point)
    {
        var model = new double[point.Length];
        for (int i = 0; i < point.Length; i++) model[i] = _space.ToModel(i, point[i]);
        return model;
    }

    private void Add(Trial trial)
    {
        _byNumber.Add(trial.Number, trial);
        // Trial numbers nearly always arrive in order: append, else insert at its place.
        int at = _trials.Count;
        while (at > 0 && _trials[at - 1].Number > trial.Number) at--;
        _trials.Insert(at, trial);
    }

    private void EnsureScratch(int count)
    {
        if (_ranked.Length >= count) return;
        int size = Math.Max(count, _ranked.Length * 2);
        _ranked = new Trial[size];
        _good = new Trial[size];
        _bad = new Trial[size];
        _goodValues = new double[size];
        _badValues = new double[size];
        _goodWeights = new double[size];
        _badWeights = new double[size];
    }

    private sealed class Trial(int number, double[] point, double[] model)
    {
        public int Number { get; } = number;
        public double[] Point { get; } = point;
        public double[] Model { get; } = model;
        public bool Observed { get; set; }
        public double? Loss { get; set; }
        public bool Good { get; set; }
        public bool Completed => Observed && Loss is not null;
    }

    private sealed class TrialByLoss : IComparer<Trial>
    {
        public static readonly TrialByLoss Instance = new();

        public int Compare(Trial? x, Trial? y)
        {
            int c = x!.Loss!.Value.CompareTo(y!.Loss!.Value);
            return c != 0 ? c : x.Number.CompareTo(y.Number);
        }
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
        public required TrialState[]? Trials { get; init; }
    }

    private sealed record TrialState
    {
        public required int Number { get; init; }
        public required double[] Point { get; init; }
        public required bool Observed { get; init; }
        public required double? Loss { get; init; }
    }
}
