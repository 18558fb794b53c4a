using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>The median stopping rule (Golovin et al. 2017, Google Vizier).</summary>
/// <remarks>
/// At a report at step s (s &gt;= MinResource), the trial stops if its best value so far is strictly worse than the
/// median, over the other trials that have reached step s, of their running averages up to s (the mean of each
/// one's values reported at steps &lt;= s), provided at least MinTrials such trials exist. "Reached step s" rather
/// than "completed" as in Vizier: with long GAN trials the first completions come late, while trials running
/// side by side give a fair comparison at the same step as soon as they get there; a trial that was stopped or
/// failed still counts up to the last step it reported.
/// </remarks>
public sealed class MedianStopper : IEarlyStopper
{
    public const string AlgorithmName = EarlyStoppingAlgorithms.Median;

    private readonly int _minResource;
    private readonly int _minTrials;
    private readonly Dictionary<int, History> _trials = [];
    private readonly SortedSet<int> _stopped = [];
    private double[] _averages = new double[16];

    public MedianStopper(int minResource, int minTrials)
    {
        if (minResource < 0) throw new ArgumentException($"median: min_resource must be >= 0, got {minResource}");
        if (minTrials < 1) throw new ArgumentException($"median: min_trials must be >= 1, got {minTrials}");
        _minResource = minResource;
        _minTrials = minTrials;
    }

    public StopDecision Report(int trialNumber, int step, double value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (_stopped.Contains(trialNumber)) return StopDecision.Stop;
        if (!_trials.TryGetValue(trialNumber, out var history)) _trials[trialNumber] = history = new History();
        history.Add(step, double.IsNaN(value) ? double.PositiveInfinity : value);
        if (step < _minResource) return StopDecision.Continue;

        int count = 0;
        foreach (var (number, other) in _trials)
        {
            if (number == trialNumber || other.LastStep < step || other.FirstStep > step) continue;
            if (_averages.Length == count) Array.Resize(ref _averages, count * 2);
            _averages[count++] = other.RunningAverage(step);
        }
        if (count < _minTrials) return StopDecision.Continue;
        double median = Median(_averages.AsSpan(0, count));
        if (history.Best > median)
        {
            _stopped.Add(trialNumber);
            return StopDecision.Stop;
        }
        return StopDecision.Continue;
    }

    /// <summary>The final value adds nothing to the rule: the trial's reports already stand for it.</summary>
    public void Complete(int trialNumber, double? value) => ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);

    public string SaveState()
    {
        var trials = new List<TrialState>(_trials.Count);
        foreach (var number in new SortedSet<int>(_trials.Keys))
        {
            var h = _trials[number];
            trials.Add(new TrialState { Number = number, Steps = [.. h.Steps], Values = [.. h.Values] });
        }
        return StateJson.Write(new State
        {
            Algorithm = AlgorithmName,
            Version = StateJson.Version,
            Seed = 0,
            Parameters = null,
            MinResource = _minResource,
            MinTrials = _minTrials,
            Trials = [.. trials],
            Stopped = [.. _stopped],
        });
    }

    public static MedianStopper Restore(int minResource, int minTrials, string state)
    {
        var saved = StateJson.Read<State>(state, AlgorithmName, signature: null, seed: null);
        if (saved.MinResource != minResource || saved.MinTrials != minTrials)
            throw new SearchStateException(
                $"median state was saved with min_resource {saved.MinResource}, min_trials {saved.MinTrials}; the sweep now says {minResource}, {minTrials}");
        var stopper = new MedianStopper(minResource, minTrials);
        foreach (var t in saved.Trials ?? [])
        {
            if (t?.Steps is null || t.Values is null || t.Steps.Length != t.Values.Length || stopper._trials.ContainsKey(t.Number))
                throw new SearchStateException($"median state: trial entry {t?.Number.ToString() ?? "null"} is malformed or repeated");
            var history = new History();
            for (int i = 0; i < t.Steps.Length; i++) history.Add(t.Steps[i], t.Values[i]);
            stopper._trials[t.Number] = history;
        }
        foreach (int number in saved.Stopped ?? []) stopper._stopped.Add(number);
        return stopper;
    }

    /// <summary>Median of the values (sorts them in place).</summary>
    private static double Median(Span<double> values)
    {
        values.Sort();
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
    }

    /// <summary>One trial's reports in step order, with prefix sums for running averages.</summary>
    private sealed class History
    {
        public List<int> Steps { get; } = [];
        public List<double> Values { get; } = [];
        private readonly List<double> _prefixSums = [];

        public double Best { get; private set; } = double.PositiveInfinity;

        public int LastStep => Steps.Count == 0 ? -1 : Steps[^1];

        public int FirstStep => Steps.Count == 0 ? int.MaxValue : Steps[0];

        public void Add(int step, double value)
        {
            // Reports normally come in step order; a repeated or older step (a worker retrying a report after
            // resuming from a checkpoint) replaces the history from that step on, as the trial has rewound.
            int keep = Steps.Count;
            while (keep > 0 && Steps[keep - 1] >= step) keep--;
            if (keep < Steps.Count)
            {
                Steps.RemoveRange(keep, Steps.Count - keep);
                Values.RemoveRange(keep, Values.Count - keep);
                _prefixSums.RemoveRange(keep, _prefixSums.Count - keep);
                Best = double.PositiveInfinity;
                foreach (double v in Values) Best = Math.Min(Best, v);
            }
            Steps.Add(step);
            Values.Add(value);
            _prefixSums.Add((_prefixSums.Count == 0 ? 0 : _prefixSums[^1]) + value);
            Best = Math.Min(Best, value);
        }

        /// <summary>Mean of the values reported at steps &lt;= <paramref name="step"/> (the caller ensures there is one).</summary>
        public double RunningAverage(int step)
        {
            int index = Steps.BinarySearch(step);
            int count = index >= 0 ? index + 1 : ~index;
            return count == 0 ? double.PositiveInfinity : _prefixSums[count - 1] / count;
        }
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
        public required int MinResource { get; init; }
        public required int MinTrials { get; init; }
        public required TrialState[]? Trials { get; init; }
        public required int[]? Stopped { get; init; }
    }

    private sealed record TrialState
    {
        public required int Number { get; init; }
        public required int[] Steps { get; init; }
        public required double[] Values { get; init; }
    }
}
