using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>ASHA, asynchronous successive halving (Li et al. 2020), in its stopping form as Ray Tune's ASHAScheduler.</summary>
/// <remarks>
/// Rungs sit at MinResource·η^k steps for every k with MinResource·η^k &lt; MaxResource (a decision at the last step
/// would change nothing: the trial ends there anyway). Trials are not paused and resumed: each keeps training and
/// is judged when it first reports at or past a rung. With the values recorded at that rung so far (by trials that
/// got there earlier), the trial continues only if its value is no worse than their 1/η quantile (linear
/// interpolation, numpy's default), i.e. it would be in the top 1/η; the first trial at a rung always continues.
/// Its value is recorded either way. When one report jumps past several rungs only the highest is judged (lower
/// ones are skipped, as Ray does). Promotion without waiting is what makes it asynchronous: no trial idles until
/// a rung fills, at the price of promoting some early arrivals the full rung would have cut.
/// </remarks>
public sealed class AshaStopper : IEarlyStopper
{
    public const string AlgorithmName = EarlyStoppingAlgorithms.Asha;

    private readonly int[] _rungs; // ascending
    private readonly int _reductionFactor;
    private readonly List<(int Trial, double Value)>[] _recorded; // per rung, in arrival order
    private readonly HashSet<int>[] _judged; // per rung: trials recorded there
    private readonly SortedSet<int> _stopped = [];
    private double[] _scratch = new double[16];

    /// <param name="minResource">Steps of the lowest rung.</param>
    /// <param name="maxResource">The most steps a trial trains; rungs lie below it.</param>
    /// <param name="reductionFactor">η: the top 1/η of a rung continues.</param>
    public AshaStopper(int minResource, int maxResource, int reductionFactor)
    {
        if (minResource < 1) throw new ArgumentException($"asha: min_resource must be >= 1, got {minResource}");
        if (maxResource < minResource)
            throw new ArgumentException($"asha: max_resource ({maxResource}) must be >= min_resource ({minResource})");
        if (reductionFactor < 2) throw new ArgumentException($"asha: reduction_factor must be >= 2, got {reductionFactor}");
        _reductionFactor = reductionFactor;
        var rungs = new List<int>();
        for (long r = minResource; r < maxResource; r *= reductionFactor) rungs.Add((int)r);
        _rungs = [.. rungs];
        _recorded = new List<(int, double)>[_rungs.Length];
        _judged = new HashSet<int>[_rungs.Length];
        for (int i = 0; i < _recorded.Length; i++)
        {
            _recorded[i] = [];
            _judged[i] = [];
        }
    }

    /// <summary>Steps at which trials are judged, ascending.</summary>
    public IReadOnlyList<int> Rungs => _rungs;

    public StopDecision Report(int trialNumber, int step, double value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        if (_stopped.Contains(trialNumber)) return StopDecision.Stop;
        if (double.IsNaN(value)) value = double.PositiveInfinity;
        for (int k = _rungs.Length - 1; k >= 0; k--)
        {
            if (step < _rungs[k]) continue;
            var recorded = _recorded[k];
            if (!_judged[k].Add(trialNumber)) return StopDecision.Continue; // already judged here and kept
            bool stop = recorded.Count > 0 && value > Cutoff(recorded);
            recorded.Add((trialNumber, value));
            if (!stop) return StopDecision.Continue;
            _stopped.Add(trialNumber);
            return StopDecision.Stop;
        }
        return StopDecision.Continue;
    }

    /// <summary>The final value does not feed any rung: all rungs lie below the last step.</summary>
    public void Complete(int trialNumber, double? value) => ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);

    public string SaveState() => StateJson.Write(ToState());

    public static AshaStopper Restore(int minResource, int maxResource, int reductionFactor, string state)
    {
        var stopper = new AshaStopper(minResource, maxResource, reductionFactor);
        stopper.Load(StateJson.Read<State>(state, AlgorithmName, signature: null, seed: null));
        return stopper;
    }

    internal State ToState()
    {
        var recorded = new RecordState[_rungs.Length][];
        for (int k = 0; k < _rungs.Length; k++)
        {
            recorded[k] = new RecordState[_recorded[k].Count];
            for (int i = 0; i < recorded[k].Length; i++)
                recorded[k][i] = new RecordState { Trial = _recorded[k][i].Trial, Value = _recorded[k][i].Value };
        }
        return new State
        {
            Algorithm = AlgorithmName,
            Version = StateJson.Version,
            Seed = 0,
            Parameters = null,
            Rungs = _rungs,
            ReductionFactor = _reductionFactor,
            Recorded = recorded,
            Stopped = [.. _stopped],
        };
    }

    internal void Load(State saved)
    {
        if (saved.ReductionFactor != _reductionFactor || !(saved.Rungs ?? []).AsSpan().SequenceEqual(_rungs))
            throw new SearchStateException(
                $"asha state was saved for rungs [{string.Join(", ", saved.Rungs ?? [])}] with η = {saved.ReductionFactor}; " +
                $"the sweep now gives [{string.Join(", ", _rungs)}] with η = {_reductionFactor}");
        if (saved.Recorded is null || saved.Recorded.Length != _rungs.Length)
            throw new SearchStateException("asha state: recorded values do not match the rungs");
        for (int k = 0; k < _rungs.Length; k++)
            foreach (var r in saved.Recorded[k] ?? throw new SearchStateException($"asha state: rung {k} is null"))
            {
                if (!_judged[k].Add(r.Trial)) throw new SearchStateException($"asha state: trial {r.Trial} recorded twice at rung {k}");
                _recorded[k].Add((r.Trial, r.Value));
            }
        foreach (int trial in saved.Stopped ?? []) _stopped.Add(trial);
    }

    /// <summary>The 1/η quantile of a rung's values with linear interpolation (numpy.percentile's default).</summary>
    private double Cutoff(List<(int Trial, double Value)> recorded)
    {
        int n = recorded.Count;
        if (_scratch.Length < n) _scratch = new double[Math.Max(n, _scratch.Length * 2)];
        var values = _scratch.AsSpan(0, n);
        for (int i = 0; i < n; i++) values[i] = recorded[i].Value;
        values.Sort();
        double position = (n - 1) / (double)_reductionFactor;
        int low = (int)Math.Floor(position);
        double fraction = position - low;
        if (fraction == 0 || low + 1 >= n) return values[low];
        if (double.IsPositiveInfinity(values[low + 1])) return double.PositiveInfinity;
        return values[low] + (values[low + 1] - values[low]) * fraction;
    }

    internal sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
        public required int[]? Rungs { get; init; }
        public required int ReductionFactor { get; init; }
        public required RecordState[][]? Recorded { get; init; }
        public required int[]? Stopped { get; init; }
    }

    internal sealed record RecordState
    {
        public required int Trial { get; init; }
        public required double Value { get; init; }
    }
}
