using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Hyperband (Li et al., JMLR 2018) run asynchronously: its brackets, each an <see cref="AshaStopper"/>.</summary>
/// <remarks>
/// Brackets follow Algorithm 1 of Li et al. 2018 ("Hyperband: A Novel Bandit-Based Approach to Hyperparameter
/// Optimization"), with R = MaxResource / MinResource in units of the minimum resource:
/// s_max = floor(log_η(R)); bracket s (s = s_max, ..., 0) has n_s = ceil((s_max + 1) / (s + 1) · η^s) trials and
/// starts at r_s = R · η^(-s) units, i.e. MaxResource / η^s steps (rounded). For R = 81, η = 3: (n, r) =
/// (81, 1), (34, 3), (15, 9), (8, 27), (5, 81). Bracket 0 starts at the full budget: its trials are never stopped.
/// Asynchronously (as in the ASHA paper's asynchronous Hyperband and Ray's AsyncHyperBandScheduler), a bracket is
/// an ASHA with its own rungs r_s·η^k; n_s sets only the share of trials a bracket receives. Trial numbers are
/// dealt to brackets by smooth weighted round-robin over the n_s, so every prefix of trials is split in about
/// those proportions and the assignment is a pure function of the trial number (nothing to persist for it).
/// With Brackets = B below s_max + 1, the B most aggressive brackets (s_max down to s_max - B + 1) are used:
/// B = 1 is plain ASHA.
/// </remarks>
public sealed class HyperbandStopper : IEarlyStopper
{
    public const string AlgorithmName = EarlyStoppingAlgorithms.Hyperband;

    private readonly BracketInfo[] _brackets;
    private readonly AshaStopper[] _asha;
    private readonly int[] _cycle; // bracket index per position in one period of the round-robin

    public HyperbandStopper(int minResource, int maxResource, int reductionFactor, int? brackets)
    {
        if (minResource < 1) throw new ArgumentException($"hyperband: min_resource must be >= 1, got {minResource}");
        if (maxResource < minResource)
            throw new ArgumentException($"hyperband: max_resource ({maxResource}) must be >= min_resource ({minResource})");
        if (reductionFactor < 2) throw new ArgumentException($"hyperband: reduction_factor must be >= 2, got {reductionFactor}");
        // s_max = floor(log_η(max / min)), computed exactly in integers.
        int sMax = 0;
        for (long r = (long)minResource * reductionFactor; r <= maxResource; r *= reductionFactor) sMax++;
        int count = brackets ?? sMax + 1;
        if (count < 1 || count > sMax + 1)
            throw new ArgumentException($"hyperband: brackets must be between 1 and {sMax + 1} (floor(log_η(max/min)) + 1), got {count}");

        double units = maxResource / (double)minResource;
        _brackets = new BracketInfo[count];
        _asha = new AshaStopper[count];
        for (int i = 0; i < count; i++)
        {
            int s = sMax - i;
            long etaS = 1;
            for (int j = 0; j < s; j++) etaS *= reductionFactor;
            int n = checked((int)(((sMax + 1) * etaS + s) / (s + 1))); // ceil((s_max + 1) η^s / (s + 1)), in integers
            int start = Math.Max(minResource, (int)Math.Round(units / etaS * minResource));
            _brackets[i] = new BracketInfo(s, n, start);
            _asha[i] = new AshaStopper(start, maxResource, reductionFactor);
        }
        _cycle = SmoothRoundRobin(_brackets);
    }

    /// <summary>The brackets in use, most aggressive first.</summary>
    public IReadOnlyList<BracketInfo> Brackets => _brackets;

    /// <summary>Index into <see cref="Brackets"/> of the bracket trial <paramref name="trialNumber"/> belongs to.</summary>
    public int BracketOf(int trialNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        return _cycle[trialNumber % _cycle.Length];
    }

    public StopDecision Report(int trialNumber, int step, double value) => _asha[BracketOf(trialNumber)].Report(trialNumber, step, value);

    public void Complete(int trialNumber, double? value) => _asha[BracketOf(trialNumber)].Complete(trialNumber, value);

    public string SaveState()
    {
        var brackets = new AshaStopper.State[_asha.Length];
        for (int i = 0; i < brackets.Length; i++) brackets[i] = _asha[i].ToState();
        return StateJson.Write(new State
        {
            Algorithm = AlgorithmName,
            Version = StateJson.Version,
            Seed = 0,
            Parameters = null,
            Brackets = brackets,
        });
    }

    public static HyperbandStopper Restore(int minResource, int maxResource, int reductionFactor, int? brackets, string state)
    {
        var stopper = new HyperbandStopper(minResource, maxResource, reductionFactor, brackets);
        var saved = StateJson.Read<State>(state, AlgorithmName, signature: null, seed: null);
        if (saved.Brackets is null || saved.Brackets.Length != stopper._asha.Length)
            throw new SearchStateException(
                $"hyperband state has {saved.Brackets?.Length ?? 0} brackets, the sweep now gives {stopper._asha.Length}");
        for (int i = 0; i < saved.Brackets.Length; i++)
            stopper._asha[i].Load(saved.Brackets[i] ?? throw new SearchStateException($"hyperband state: bracket {i} is null"));
        return stopper;
    }

    /// <summary>One period (Σ n_s positions) of nginx-style smooth weighted round-robin over the brackets' n_s.</summary>
    private static int[] SmoothRoundRobin(BracketInfo[] brackets)
    {
        int total = 0;
        foreach (var b in brackets) total += b.Trials;
        var cycle = new int[total];
        var current = new long[brackets.Length];
        for (int position = 0; position < total; position++)
        {
            int pick = 0;
            for (int i = 0; i < brackets.Length; i++)
            {
                current[i] += brackets[i].Trials;
                if (current[i] > current[pick]) pick = i;
            }
            current[pick] -= total;
            cycle[position] = pick;
        }
        return cycle;
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
        public required AshaStopper.State[]? Brackets { get; init; }
    }
}
