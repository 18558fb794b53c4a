using Google.Protobuf;
using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Sweeps;

/// <summary>Converts a sweep between its record and its wire form; the way in validates exactly like the YAML reader.</summary>
public static class SweepSpecProto
{
    /// <summary>The wire form, with only the scalars that differ from their defaults set (as <see cref="TrialSpecProto"/> does).</summary>
    public static Protos.SweepSpec ToProto(this SweepSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var d = new SweepSpec();
        var p = new Protos.SweepSpec
        {
            Trial = spec.Trial.ToProto(),
            Objective = ToProto(spec.Objective),
            Search = ToProto(spec.Search),
            EarlyStopping = ToProto(spec.EarlyStopping),
            Budget = ToProto(spec.Budget),
            Resources = ToProto(spec.Resources),
        };
        Put(spec.Name, d.Name, v => p.Name = v);
        foreach (var parameter in spec.Parameters) p.Parameters.Add(ToProto(parameter));
        return p;
    }

    /// <summary>
    /// Reads a sweep from the wire: unset fields take their defaults, and the result passes the same validation as a
    /// sweep file, against <paramref name="limits"/>, with fields named below <paramref name="path"/>.
    /// </summary>
    /// <exception cref="SpecException">The sweep is invalid; every problem names its field.</exception>
    public static SweepSpec FromProto(Protos.SweepSpec proto, SweepLimits limits, string path = "sweep")
    {
        ArgumentNullException.ThrowIfNull(proto);
        ArgumentNullException.ThrowIfNull(limits);
        var size = proto.CalculateSize();
        if (size > SweepLimits.MaxSerializedBytes)
            throw new SpecException([new SpecError(path, $"is {size} bytes; the limit is {SweepLimits.MaxSerializedBytes}")]);
        var errors = new List<SpecError>();
        TrialSpec trial;
        try
        {
            trial = TrialSpecProto.FromProto(proto.Trial ?? new Protos.TrialSpec(), $"{path}.trial");
        }
        catch (SpecException e)
        {
            errors.AddRange(e.Errors);
            trial = new TrialSpec();
        }
        var d = new SweepSpec();
        var spec = new SweepSpec
        {
            Name = proto.HasName ? proto.Name : d.Name,
            Trial = trial,
            Parameters = proto.Parameters.Select(ToRecord).ToList(),
            Objective = ToRecord(proto.Objective),
            Search = ToRecord(proto.Search),
            EarlyStopping = ToRecord(proto.EarlyStopping),
            Budget = ToRecord(proto.Budget),
            Resources = ToRecord(proto.Resources),
        };
        errors.AddRange(SweepSpecValidator.ValidateSweep(spec, path, limits, templateValid: errors.Count == 0));
        if (errors.Count > 0) throw new SpecException(errors);
        return spec;
    }

    private static void Put<T>(T value, T fallback, Action<T> set)
    {
        if (!EqualityComparer<T>.Default.Equals(value, fallback)) set(value);
    }

    private static Protos.ParameterSpec ToProto(ParameterSpec s)
    {
        var p = new Protos.ParameterSpec { Name = s.Name, Type = s.Type };
        if (s.Min is { } min) p.Min = min;
        if (s.Max is { } max) p.Max = max;
        p.Values.AddRange(s.Values);
        if (s.GridPoints is { } points) p.GridPoints = points;
        return p;
    }

    private static ParameterSpec ToRecord(Protos.ParameterSpec p) => new()
    {
        Name = p.HasName ? p.Name : "",
        Type = p.HasType ? p.Type : "",
        Min = p.HasMin ? p.Min : null,
        Max = p.HasMax ? p.Max : null,
        Values = p.Values.ToList(),
        GridPoints = p.HasGridPoints ? p.GridPoints : null,
    };

    private static Protos.ObjectiveSpec ToProto(ObjectiveSpec s)
    {
        var d = new ObjectiveSpec();
        var p = new Protos.ObjectiveSpec();
        Put(s.Metric, d.Metric, v => p.Metric = v);
        Put(s.Goal, d.Goal, v => p.Goal = v);
        return p;
    }

    private static ObjectiveSpec ToRecord(Protos.ObjectiveSpec? p)
    {
        var d = new ObjectiveSpec();
        if (p is null) return d;
        return new ObjectiveSpec
        {
            Metric = p.HasMetric ? p.Metric : d.Metric,
            Goal = p.HasGoal ? p.Goal : d.Goal,
        };
    }

    private static Protos.SearchSpec ToProto(SearchSpec s)
    {
        var d = new SearchSpec();
        var p = new Protos.SearchSpec();
        Put(s.Algorithm, d.Algorithm, v => p.Algorithm = v);
        Put(s.Seed, d.Seed, v => p.Seed = v);
        Put(s.GridPoints, d.GridPoints, v => p.GridPoints = v);
        Put(s.StartupTrials, d.StartupTrials, v => p.StartupTrials = v);
        Put(s.Gamma, d.Gamma, v => p.Gamma = v);
        Put(s.Candidates, d.Candidates, v => p.Candidates = v);
        Put(s.Population, d.Population, v => p.Population = v);
        Put(s.ReadyInterval, d.ReadyInterval, v => p.ReadyInterval = v);
        Put(s.Quantile, d.Quantile, v => p.Quantile = v);
        Put(s.ResampleProbability, d.ResampleProbability, v => p.ResampleProbability = v);
        if (!s.PerturbFactors.SequenceEqual(d.PerturbFactors)) p.PerturbFactors.AddRange(s.PerturbFactors);
        return p;
    }

    private static SearchSpec ToRecord(Protos.SearchSpec? p)
    {
        var d = new SearchSpec();
        if (p is null) return d;
        return new SearchSpec
        {
            Algorithm = p.HasAlgorithm ? p.Algorithm : d.Algorithm,
            Seed = p.HasSeed ? p.Seed : d.Seed,
            GridPoints = p.HasGridPoints ? p.GridPoints : d.GridPoints,
            StartupTrials = p.HasStartupTrials ? p.StartupTrials : d.StartupTrials,
            Gamma = p.HasGamma ? p.Gamma : d.Gamma,
            Candidates = p.HasCandidates ? p.Candidates : d.Candidates,
            Population = p.HasPopulation ? p.Population : d.Population,
            ReadyInterval = p.HasReadyInterval ? p.ReadyInterval : d.ReadyInterval,
            Quantile = p.HasQuantile ? p.Quantile : d.Quantile,
            ResampleProbability = p.HasResampleProbability ? p.ResampleProbability : d.ResampleProbability,
            // A repeated field has no presence: empty means "the default factors".
            PerturbFactors = p.PerturbFactors.Count > 0 ? p.PerturbFactors.ToList() : d.PerturbFactors,
        };
    }

    private static Protos.EarlyStoppingSpec ToProto(EarlyStoppingSpec s)
    {
        var d = new EarlyStoppingSpec();
        var p = new Protos.EarlyStoppingSpec();
        Put(s.Algorithm, d.Algorithm, v => p.Algorithm = v);
        if (s.Metric is not null) p.Metric = s.Metric;
        Put(s.MinResource, d.MinResource, v => p.MinResource = v);
        if (s.MaxResource is { } max) p.MaxResource = max;
        Put(s.ReductionFactor, d.ReductionFactor, v => p.ReductionFactor = v);
        Put(s.MinTrials, d.MinTrials, v => p.MinTrials = v);
        if (s.Brackets is { } brackets) p.Brackets = brackets;
        return p;
    }

    private static EarlyStoppingSpec ToRecord(Protos.EarlyStoppingSpec? p)
    {
        var d = new EarlyStoppingSpec();
        if (p is null) return d;
        return new EarlyStoppingSpec
        {
            Algorithm = p.HasAlgorithm ? p.Algorithm : d.Algorithm,
            Metric = p.HasMetric ? p.Metric : null,
            MinResource = p.HasMinResource ? p.MinResource : d.MinResource,
            MaxResource = p.HasMaxResource ? p.MaxResource : null,
            ReductionFactor = p.HasReductionFactor ? p.ReductionFactor : d.ReductionFactor,
            MinTrials = p.HasMinTrials ? p.MinTrials : d.MinTrials,
            Brackets = p.HasBrackets ? p.Brackets : null,
        };
    }

    private static Protos.BudgetSpec ToProto(BudgetSpec s)
    {
        var d = new BudgetSpec();
        var p = new Protos.BudgetSpec();
        Put(s.MaxTrials, d.MaxTrials, v => p.MaxTrials = v);
        Put(s.ParallelTrials, d.ParallelTrials, v => p.ParallelTrials = v);
        if (s.MaxFailedTrials is { } failed) p.MaxFailedTrials = failed;
        Put(s.MaxRetries, d.MaxRetries, v => p.MaxRetries = v);
        return p;
    }

    private static BudgetSpec ToRecord(Protos.BudgetSpec? p)
    {
        var d = new BudgetSpec();
        if (p is null) return d;
        return new BudgetSpec
        {
            MaxTrials = p.HasMaxTrials ? p.MaxTrials : d.MaxTrials,
            ParallelTrials = p.HasParallelTrials ? p.ParallelTrials : d.ParallelTrials,
            MaxFailedTrials = p.HasMaxFailedTrials ? p.MaxFailedTrials : null,
            MaxRetries = p.HasMaxRetries ? p.MaxRetries : d.MaxRetries,
        };
    }

    private static Protos.ResourcesSpec ToProto(ResourcesSpec s)
    {
        var d = new ResourcesSpec();
        var p = new Protos.ResourcesSpec();
        Put(s.Workers, d.Workers, v => p.Workers = v);
        Put(s.Devices, d.Devices, v => p.Devices = v);
        return p;
    }

    private static ResourcesSpec ToRecord(Protos.ResourcesSpec? p)
    {
        var d = new ResourcesSpec();
        if (p is null) return d;
        return new ResourcesSpec
        {
            Workers = p.HasWorkers ? p.Workers : d.Workers,
            Devices = p.HasDevices ? p.Devices : d.Devices,
        };
    }
}
