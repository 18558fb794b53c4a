using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Search;

/// <summary>Population based training (Jaderberg et al. 2017): exploit and explore decisions and the lineage they leave.</summary>
/// <remarks>
/// Members (trials) are added with their starting point (the sweep draws those from <see cref="RandomSearcher"/>)
/// and report (step, value, hasCheckpoint) as they train. A member is ready every ReadyInterval steps since its
/// last decision. When a ready member ranks in the bottom Quantile of the members with a current value
/// (lower value better; ties by trial number; quantile sized as Ray's PBT: ceil(n·q), at most floor(n/2)), it
/// exploits a member of the top Quantile picked at random, among those that have a checkpoint and a strictly
/// better value: never one without a checkpoint (the anchors' failure: a copy of nothing restarts the trial from
/// scratch), never one merely tied with it. If no top member has one
/// yet it simply continues. Explore then changes the copied member's parameters: each one is resampled from
/// its range with ResampleProbability; otherwise a numeric one is multiplied by one of PerturbFactors (picked at
/// random) and clamped into its range (rounded for int), a categorical one kept.
/// After an exploit the member's value and checkpoint are cleared (they belonged to the weights it dropped) and
/// its next decision comes ReadyInterval steps after the copied checkpoint's step.
/// Every random choice comes from a stream keyed by (seed, trial, step), so decisions do not depend on how many
/// were made before, and <see cref="SaveState"/> keeps each member's current (perturbed) point and the lineage.
/// </remarks>
public sealed class PbtController
{
    public const string AlgorithmName = SearchAlgorithms.Pbt;

    private const ulong StreamPurpose = 3;

    private readonly SearchSpace _space;
    private readonly int _seed;
    private readonly int _population;
    private readonly int _readyInterval;
    private readonly double _quantile;
    private readonly double _resampleProbability;
    private readonly double[] _perturbFactors;
    private readonly SortedDictionary<int, Member> _members = [];
    private readonly List<PbtLineageEntry> _lineage = [];

    public PbtController(SearchSpace space, SearchSpec search)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(search);
        if (search.Population < 2) throw new ArgumentException($"pbt: population must be >= 2, got {search.Population}");
        if (search.ReadyInterval < 1) throw new ArgumentException($"pbt: ready_interval must be >= 1, got {search.ReadyInterval}");
        if (!(search.Quantile > 0 && search.Quantile <= 0.5)) throw new ArgumentException($"pbt: quantile must be in (0, 0.5], got {search.Quantile}");
        if (!(search.ResampleProbability >= 0 && search.ResampleProbability <= 1))
            throw new ArgumentException($"pbt: resample_probability must be in [0, 1], got {search.ResampleProbability}");
        if (search.PerturbFactors is null || search.PerturbFactors.Count == 0)
            throw new ArgumentException("pbt: perturb_factors must list at least one factor");
        foreach (double f in search.PerturbFactors)
            if (!(f > 0) || !double.IsFinite(f)) throw new ArgumentException($"pbt: perturb factors must be positive, got {f}");
        _space = space;
        _seed = search.Seed;
        _population = search.Population;
        _readyInterval = search.ReadyInterval;
        _quantile = search.Quantile;
        _resampleProbability = search.ResampleProbability;
        _perturbFactors = [.. search.PerturbFactors];
    }

    /// <summary>Every exploit so far, in the order they happened.</summary>
    public IReadOnlyList<PbtLineageEntry> Lineage => _lineage;

    /// <summary>Trial numbers of the current members, ascending.</summary>
    public IReadOnlyCollection<int> Members => _members.Keys;

    /// <summary>Adds a member starting at <paramref name="point"/> (clamped into the space).</summary>
    public void AddMember(int trialNumber, double[] point)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialNumber);
        if (_members.ContainsKey(trialNumber)) throw new ArgumentException($"pbt: trial {trialNumber} is already a member");
        if (_members.Count >= _population) throw new InvalidOperationException($"pbt: the population is full ({_population} members)");
        _members.Add(trialNumber, new Member { Point = _space.Clamp(point) });
    }

    /// <summary>Takes a member out of the population (it failed or ended): it is no longer ranked nor copied.</summary>
    public void RemoveMember(int trialNumber) => _members.Remove(trialNumber);

    /// <summary>The member's current parameters (after every perturbation so far).</summary>
    public double[] PointOf(int trialNumber) => (double[])GetMember(trialNumber).Point.Clone();

    /// <summary>The exploits that made <paramref name="trialNumber"/> what it is, oldest first.</summary>
    public IReadOnlyList<PbtLineageEntry> LineageOf(int trialNumber)
    {
        var entries = new List<PbtLineageEntry>();
        foreach (var e in _lineage)
            if (e.Trial == trialNumber) entries.Add(e);
        return entries;
    }

    /// <summary>
    /// A member's intermediate value at <paramref name="step"/> (lower is better; NaN counts as the worst), and
    /// whether a checkpoint of it at this step exists that other members could copy.
    /// </summary>
    public PbtDecision Report(int trialNumber, int step, double value, bool hasCheckpoint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        var member = GetMember(trialNumber);
        member.Value = double.IsNaN(value) ? double.PositiveInfinity : value;
        member.Step = step;
        if (hasCheckpoint) member.CheckpointStep = step;
        if (step - member.LastReadyStep < _readyInterval) return PbtDecision.Continue;
        member.LastReadyStep = step;

        var ranked = new List<(int Trial, Member Member)>(_members.Count);
        foreach (var (number, m) in _members)
            if (m.Value is not null) ranked.Add((number, m));
        if (ranked.Count < 2) return PbtDecision.Continue;
        ranked.Sort((a, b) =>
        {
            int c = a.Member.Value!.Value.CompareTo(b.Member.Value!.Value);
            return c != 0 ? c : a.Trial.CompareTo(b.Trial);
        });
        int inQuantile = Math.Min((int)Math.Ceiling(ranked.Count * _quantile), ranked.Count / 2);
        if (inQuantile == 0) return PbtDecision.Continue;
        bool inBottom = false;
        for (int i = ranked.Count - inQuantile; i < ranked.Count; i++)
            if (ranked[i].Trial == trialNumber) inBottom = true;
        if (!inBottom) return PbtDecision.Continue;

        // Only a strictly better member is worth copying. Early in a GAN's training every member can stand at the
        // same value (no high-quality samples yet): ranking those by trial number and copying across would throw
        // away members that are merely not ahead yet, and with them the population's diversity.
        var sources = new List<(int Trial, Member Member)>(inQuantile);
        for (int i = 0; i < inQuantile; i++)
            if (ranked[i].Member.CheckpointStep is not null && ranked[i].Trial != trialNumber && ranked[i].Member.Value < member.Value)
                sources.Add(ranked[i]);
        if (sources.Count == 0) return PbtDecision.Continue;

        var random = DeterministicRandom.ForStream(_seed, ((long)trialNumber << 32) | (uint)step, StreamPurpose);
        var (sourceTrial, source) = sources[random.NextInt(sources.Count)];
        int checkpointStep = source.CheckpointStep!.Value;
        var newPoint = Explore(source.Point, random);
        _lineage.Add(new PbtLineageEntry(trialNumber, step, sourceTrial, checkpointStep, member.Point, newPoint));
        member.Point = (double[])newPoint.Clone(); // the lineage entry's arrays are the caller's to read, never ours to share
        member.Value = null;
        member.CheckpointStep = null;
        member.LastReadyStep = checkpointStep;
        return PbtDecision.Exploit(sourceTrial, checkpointStep, (double[])newPoint.Clone());
    }

    public string SaveState()
    {
        var members = new List<MemberState>(_members.Count);
        foreach (var (number, m) in _members)
        {
            members.Add(new MemberState
            {
                Trial = number,
                Point = m.Point,
                Value = m.Value,
                Step = m.Step,
                CheckpointStep = m.CheckpointStep,
                LastReadyStep = m.LastReadyStep,
            });
        }
        return StateJson.Write(new State
        {
            Algorithm = AlgorithmName,
            Version = StateJson.Version,
            Seed = _seed,
            Parameters = _space.Signature(),
            Members = [.. members],
            Lineage = [.. _lineage],
        });
    }

    /// <summary>A controller continuing from <paramref name="state"/>; throws <see cref="SearchStateException"/> if it does not fit.</summary>
    public static PbtController Restore(SearchSpace space, SearchSpec search, string state)
    {
        var saved = StateJson.Read<State>(state, AlgorithmName, space.Signature(), search.Seed);
        var controller = new PbtController(space, search);
        foreach (var m in saved.Members ?? [])
        {
            if (m?.Point is null || m.Point.Length != space.Count || controller._members.ContainsKey(m.Trial))
                throw new SearchStateException($"pbt state: member {m?.Trial.ToString() ?? "null"} is malformed or repeated");
            controller._members.Add(m.Trial, new Member
            {
                Point = space.Clamp(m.Point),
                Value = m.Value,
                Step = m.Step,
                CheckpointStep = m.CheckpointStep,
                LastReadyStep = m.LastReadyStep,
            });
        }
        foreach (var e in saved.Lineage ?? [])
        {
            if (e?.OldPoint is null || e.NewPoint is null) throw new SearchStateException("pbt state: a lineage entry is malformed");
            controller._lineage.Add(e);
        }
        return controller;
    }

    private double[] Explore(double[] point, DeterministicRandom random)
    {
        var explored = new double[point.Length];
        for (int i = 0; i < point.Length; i++)
        {
            if (random.NextDouble() < _resampleProbability)
                explored[i] = _space.SampleValue(i, random);
            else if (_space.Kind(i) == ParameterKind.Categorical)
                explored[i] = point[i];
            else
                explored[i] = _space.Clamp(i, point[i] * _perturbFactors[random.NextInt(_perturbFactors.Length)]);
        }
        return explored;
    }

    private Member GetMember(int trialNumber) =>
        _members.TryGetValue(trialNumber, out var member)
            ? member
            : throw new ArgumentException($"pbt: trial {trialNumber} is not a member of the population", nameof(trialNumber));

    private sealed class Member
    {
        public required double[] Point { get; set; }
        public double? Value { get; set; }
        public int Step { get; set; }
        public int? CheckpointStep { get; set; }
        public int LastReadyStep { get; set; }
    }

    private sealed record State : StateJson.IState
    {
        public required string Algorithm { get; init; }
        public required int Version { get; init; }
        public required int Seed { get; init; }
        public required string[]? Parameters { get; init; }
        public required MemberState[]? Members { get; init; }
        public required PbtLineageEntry[]? Lineage { get; init; }
    }

    private sealed record MemberState
    {
        public required int Trial { get; init; }
        public required double[] Point { get; init; }
        public required double? Value { get; init; }
        public required int Step { get; init; }
        public required int? CheckpointStep { get; init; }
        public required int LastReadyStep { get; init; }
    }
}
